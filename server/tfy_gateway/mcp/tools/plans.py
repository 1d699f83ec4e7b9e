"""Plan and apply: a dry run against the control plane, then applying exactly what was reviewed."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from tfy_gateway.manifests import ManifestLoadError, has_errors, load_text, validate_documents
from tfy_gateway.mcp.batch import dry_run
from tfy_gateway.mcp.errors import tool_error
from tfy_gateway.mcp.findings import NOT_ENFORCED, FindingOut, server_finding, summarise
from tfy_gateway.mcp.live import live_catalog
from tfy_gateway.mcp.plans import PLAN_ID_PATTERN, PlannedDocument, UnknownPlanError, fingerprint
from tfy_gateway.mcp.reachability import new_unreachable
from tfy_gateway.mcp.state import state_of
from tfy_gateway.mcp.tools.authoring import MAX_YAML_CHARS
from tfy_gateway.mcp.tools.base import add_tool
from tfy_gateway.mcp.tools.policy import Impact, plan_impact
from tfy_gateway.platform import BatchAccounts, ControlPlaneError, sort_for_apply

PLAN = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
FIRST_MATCH_CONFIGS = frozenset({"gateway-load-balancing-config", "gateway-rate-limiting-config"})
APPLY = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


class DocumentPlan(BaseModel):
    name: str
    type: str
    action: Literal["CREATE", "UPDATE", "NO_CHANGE"]
    diff: str = Field(
        description=(
            "Unified diff of the live manifest -> this one; for CREATE the whole manifest as added lines "
            "(from /dev/null); '' for NO_CHANGE."
        )
    )


class PlanResult(BaseModel):
    plan_id: str = Field(description="Pass to gateway_apply_plan to apply exactly this plan.")
    expires_at: str = Field(description="UTC time after which the plan can no longer be applied.")
    expires_in_seconds: int
    changes: int = Field(description="Documents that would create or change something.")
    documents: list[DocumentPlan] = Field(description="In the order they would be applied.")
    warnings: list[FindingOut] = Field(
        default_factory=list,
        description=(
            "Every warning, local validation's and the control plane's (e.g. not-enforced-locally: stored but not "
            "acted on), including unreachable rules planned with force. Tell the user each one."
        ),
    )
    impact: Impact | None = Field(
        default=None,
        description="When request logs exist and the plan touches routing, access or limits: the last 24 hours "
        "of requests replayed against the live config and the planned one (newly refused, rerouted...).",
    )


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="seconds")


async def gateway_plan(
    ctx: Context,
    yaml_text: Annotated[
        str,
        Field(min_length=1, max_length=MAX_YAML_CHARS, description="The manifest(s) to apply, YAML or JSON."),
    ],
    force: Annotated[
        bool,
        Field(description="Plan even if the change adds a rule that can never apply (unreachable-rule). Rarely right."),
    ] = False,
) -> PlanResult:
    """Dry-run manifests against the control plane and return the per-document diff and a plan_id.

    Validates first (errors fail the call with their lines; a new or changed rule that an earlier
    catch-all or identical rule shadows is an unreachable-rule error unless force=true), then asks
    the control plane what each document would create or change (a new resource's diff is all of
    it, as added lines). `warnings` holds every warning, local and the control plane's: tell the user
    each, above all not-enforced-locally (stored, but this gateway does not act on it). The plan
    records the live state it was compared with and expires after 15 minutes. Nothing is applied:
    gateway_apply_plan applies the plan by plan_id.
    """
    state = state_of(ctx)
    try:
        documents = load_text(yaml_text, file="<yaml_text>")
    except ManifestLoadError as exc:
        raise ToolError(f"The YAML cannot be read: {exc.finding.format()}. Fix it and plan again.") from None
    if not documents:
        raise ToolError("The YAML contains no documents. Pass at least one manifest.")
    async with state.control_plane() as client:
        catalog, _ = await live_catalog(client)
        live_configs = {
            kind: await client.get_config(kind)
            for kind in {str(d.data.get("type")) for d in documents if isinstance(d.data, dict)}
            if kind in FIRST_MATCH_CONFIGS
        }
        findings = new_unreachable(validate_documents(documents, catalog), documents, live_configs, force=force)
        if has_errors(findings):
            raise ToolError(
                "The manifest has errors; nothing was planned:\n"
                + summarise(findings)
                + "\nFix them (gateway_validate_manifest shows hints) and call gateway_plan again."
            )
        planned: list[PlannedDocument] = []
        ordered = sort_for_apply(documents, lambda d: d.data)
        accounts = BatchAccounts([doc.data for doc in ordered])
        for doc in ordered:
            outcome = await dry_run(client, accounts, doc.data)
            action = outcome.action if outcome.changed else "NO_CHANGE"
            planned.append(
                PlannedDocument(
                    manifest=doc.data,
                    name=outcome.name,
                    type=outcome.type,
                    action=action,
                    diff=outcome.diff,
                    live_fingerprint=fingerprint(outcome.existing),
                    warnings=outcome.warnings,
                )
            )
        impact = await plan_impact(client, [d.manifest for d in planned if d.changes])
    plan = state.plans.add(planned)
    local = [FindingOut.of(f) for f in findings if f.severity == "warning"]
    return PlanResult(
        plan_id=plan.plan_id,
        expires_at=_iso(plan.expires_at),
        expires_in_seconds=int(plan.expires_at - state.plans.now()),
        changes=sum(1 for d in planned if d.changes),
        documents=[DocumentPlan(name=d.name, type=d.type, action=d.action, diff=d.diff) for d in planned],
        warnings=_with_server_warnings(local, planned),
        impact=impact,
    )


def _with_server_warnings(local: list[FindingOut], documents: list[PlannedDocument]) -> list[FindingOut]:
    """Local findings, then what the control plane said about each document that local validation did
    not already say (a message that a local finding holds, e.g. in an unreachable-rule, is not repeated)."""
    said_locally = {finding.message for finding in local}
    said: set[tuple[str, str]] = set()
    merged = list(local)
    for doc in documents:
        for warning in doc.warnings:
            raw = str(warning.get("message"))
            if any(raw in local_message for local_message in said_locally) or (doc.name, raw) in said:
                continue
            said.add((doc.name, raw))
            merged.append(server_finding(warning, doc.type, doc.name))
    return merged


class AppliedDocument(BaseModel):
    name: str
    type: str
    action: Literal["CREATE", "UPDATE", "NO_CHANGE"]


class ApplyResult(BaseModel):
    plan_id: str
    status: Literal["applied", "already_applied"] = Field(
        description="already_applied: this plan was applied before; nothing was sent again."
    )
    applied_at: str
    documents: list[AppliedDocument]
    warnings: list[FindingOut] = Field(
        default_factory=list,
        description=(
            "What the control plane warned about (on applying, or when the plan was made for documents it did not "
            "need to send). not-enforced-locally: stored but not acted on here, so the policy is not live on this "
            "gateway: say so rather than that it applies."
        ),
    )
    not_enforced: list[str] = Field(
        default_factory=list, description="'<type>/<name>' of the applied documents this gateway does not act on."
    )


async def gateway_apply_plan(
    ctx: Context,
    plan_id: Annotated[str, Field(pattern=PLAN_ID_PATTERN, description="The plan_id returned by gateway_plan.")],
) -> ApplyResult:
    """Apply a plan made by gateway_plan to the live gateway, exactly as it was reviewed.

    Refuses an unknown or expired plan, and a plan whose live resources changed since it was made
    (plan again to see the new diff). Applying the same plan twice reports already_applied and
    sends nothing. Returns what was created or updated and every warning the control plane gave;
    a document in `not_enforced` is stored but not acted on by this gateway, so do not tell the user
    its policy is live. It does not validate or diff new text.
    """
    state = state_of(ctx)
    try:
        plan = state.plans.get(plan_id)
    except UnknownPlanError:
        raise ToolError(
            f"Unknown plan_id {plan_id!r} (plans live in this server's memory and are lost on restart). "
            "Call gateway_plan with the manifest and pass the plan_id it returns."
        ) from None
    if plan.applied_at is not None:
        return _result(plan_id, "already_applied", plan.applied_at, plan.documents)
    if state.plans.expired(plan):
        raise ToolError(
            f"Plan {plan_id} expired at {_iso(plan.expires_at)} (plans are valid for "
            f"{int(state.plans.ttl_seconds // 60)} minutes). Call gateway_plan again and review the new diff."
        )
    async with state.control_plane() as client:
        accounts = BatchAccounts([doc.manifest for doc in plan.documents])
        for doc in plan.documents:
            outcome = await dry_run(client, accounts, doc.manifest)
            if fingerprint(outcome.existing) != doc.live_fingerprint:
                raise ToolError(
                    f"The live {doc.type} '{doc.name}' changed since plan {plan_id} was made, so the "
                    "reviewed diff is stale and nothing was applied. "
                    "Call gateway_plan again and review the new diff."
                )
        for doc in plan.documents:
            if not doc.changes:
                continue
            try:
                outcome = await client.apply(doc.manifest, dry_run=False)
            except ControlPlaneError as exc:
                # The plan stays unapplied; its fingerprints no longer match, so it cannot be retried.
                done = ", ".join(plan.applied) or "nothing"
                raise ToolError(
                    f"{tool_error(exc)} Applying {doc.type} '{doc.name}' failed; already applied: {done}. "
                    "Call gateway_plan again to see what is left."
                ) from None
            plan.applied.append(f"{doc.type}/{doc.name}")
            doc.warnings = outcome.warnings  # what applying said, which may differ from the dry run
    plan.applied_at = state.plans.now()
    return _result(plan_id, "applied", plan.applied_at, plan.documents)


def _result(plan_id: str, status: str, applied_at: float, documents: list[PlannedDocument]) -> ApplyResult:
    warnings = _with_server_warnings([], documents)
    not_enforced = [f"{d.type}/{d.name}" for d in documents if any(w.get("code") == NOT_ENFORCED for w in d.warnings)]
    return ApplyResult(
        plan_id=plan_id,
        status=status,
        applied_at=_iso(applied_at),
        documents=[AppliedDocument(name=d.name, type=d.type, action=d.action) for d in documents],
        warnings=warnings,
        not_enforced=not_enforced,
    )


def register(server: MCPServer) -> None:
    add_tool(server, gateway_plan, title="Plan a change (dry run)", annotations=PLAN)
    add_tool(server, gateway_apply_plan, title="Apply a reviewed plan", annotations=APPLY)
