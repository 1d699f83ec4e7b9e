"""Authoring tools: clarify an intent, render it into a manifest, validate manifest text."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from tfy_gateway.intents import (
    CONFIG_TYPES,
    AppliedDefault,
    Intent,
    IntentCheck,
    RouteIntent,
    check_intent,
    prerequisite,
    render,
    to_yaml,
)
from tfy_gateway.manifests import Catalog, ManifestLoadError, has_errors, load_text, validate_documents
from tfy_gateway.manifests import validate_manifest as validate_one
from tfy_gateway.mcp.findings import FindingOut
from tfy_gateway.mcp.live import live_catalog, live_resource
from tfy_gateway.mcp.state import state_of
from tfy_gateway.mcp.tools.base import add_tool

logger = logging.getLogger(__name__)

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
MAX_YAML_CHARS = 200_000
ROUTING_TYPE = CONFIG_TYPES["route"]
IntentArg = Annotated[Intent, Field(description="The structured request; `kind` selects the intent type.")]


async def _optional_catalog(ctx: Context) -> Catalog | None:
    """The live catalog when the control plane answers; None (offline checks) otherwise."""
    catalog, _ = await _optional_live(ctx, routing=False)
    return catalog


async def _optional_live(ctx: Context, *, routing: bool = True) -> tuple[Catalog | None, dict[str, Any] | None]:
    """The live catalog and routing config when the control plane answers; (None, None) otherwise."""
    state = state_of(ctx)
    if state.settings is None:
        return None, None
    try:
        async with state.control_plane() as client:
            catalog, _ = await live_catalog(client)
            live_routing = await client.get_config(ROUTING_TYPE) if routing else None
    except ToolError as exc:
        logger.info("checking without the live catalog: %s", exc)
        return None, None
    return catalog, live_routing


async def gateway_check_intent(ctx: Context, intent: IntentArg) -> IntentCheck:
    """Check a structured change request (route, rate_limit, budget, provider_account, virtual_account,
    guardrail).

    Returns complete=true when gateway_render_manifest can render it; otherwise one question per
    missing, ambiguous or invalid field (allowed values and the recommended answer first) and
    next_question, the single question to ask the user now. Also lists the defaults rendering
    will use. Model names are checked against the live catalog and routing config when the control
    plane answers: limits and budgets accept the names clients send (routed aliases such as
    'openai/gpt-4o', virtual models, '<account>/<model>'); a route for a model a live rule already
    routes changes that rule or goes before it (the rule_id default says which); recommendations keep
    the user's numbers (30% stays 30%: the question asks where the rest goes). It changes nothing.
    """
    catalog, routing = await _optional_live(ctx)
    return check_intent(intent, list(catalog.entries) if catalog is not None else None, routing=routing)


class RenderResult(BaseModel):
    yaml: str = Field(description="The manifest(s) to review, then pass to gateway_plan (all documents at once).")
    manifest: dict[str, Any]
    documents: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Every manifest in apply order when the intent needs more than one (a guardrail's group, "
        "then its rule); `yaml` holds them all.",
    )
    merged_with_live: bool = Field(description="The live resource existed and its other rules/models were kept.")
    rule_ids: list[str] = Field(default_factory=list, description="Rules of the merged config, in order.")
    defaults: list[AppliedDefault] = Field(default_factory=list, description="Defaults the rendering used.")
    placement: str | None = Field(
        default=None, description="For routes: which live rule was changed, or which one the new rule precedes."
    )
    valid: bool
    findings: list[FindingOut]


async def gateway_render_manifest(ctx: Context, intent: IntentArg) -> RenderResult:
    """Render a complete intent into a manifest, merged with the live resource, and validate it.

    For gateway configs the new rule is added (or replaces the rule with the same id) and every
    other live rule is kept; for provider accounts other models are kept. Returns YAML and JSON, the
    defaults used and validation findings. Fails with the next question when the intent is
    incomplete (see gateway_check_intent). It applies nothing: use gateway_plan to see the diff.
    """
    state = state_of(ctx)
    async with state.control_plane() as client:
        catalog, _ = await live_catalog(client)
        routing = await client.get_config(ROUTING_TYPE)
        check = check_intent(intent, list(catalog.entries), routing=routing)
        if not check.complete:
            raise ToolError(
                f"The {check.kind} intent is not complete: {check.next_question} "
                f"({len(check.questions)} open question(s); gateway_check_intent lists them)."
            )
        manifest = render(intent)
        current = await live_resource(client, manifest)
        first = prerequisite(intent)
        if first is not None:
            first = prerequisite(intent, await live_resource(client, first))
    if current is not None:
        manifest = render(intent, current)
    documents = [first, manifest] if first is not None else [manifest]
    catalog = Catalog.from_manifests(documents).merged(catalog)
    findings = [finding for document in documents for finding in validate_one(document, catalog)]
    found = manifest.get("rules")
    rules: list[Any] = found if isinstance(found, list) else []
    placement = next((d.note for d in check.defaults if d.field == "rule_id"), None)
    return RenderResult(
        yaml=to_yaml(documents if len(documents) > 1 else manifest),
        manifest=manifest,
        documents=documents if len(documents) > 1 else [],
        merged_with_live=current is not None,
        rule_ids=[str(r.get("id")) for r in rules if isinstance(r, dict)],
        defaults=check.defaults,
        placement=placement if isinstance(intent, RouteIntent) else None,
        valid=not has_errors(findings),
        findings=[FindingOut.of(f) for f in findings],
    )


class DocumentSummary(BaseModel):
    document: int
    type: str | None
    name: str | None


class ValidationResult(BaseModel):
    valid: bool = Field(description="No errors (warnings allowed).")
    documents: list[DocumentSummary]
    errors: int
    warnings: int
    findings: list[FindingOut] = Field(description="Each with path, line/column and a hint on how to fix it.")
    catalog_checked: bool = Field(description="Model names were checked against the live catalog.")
    note: str | None = None


async def gateway_validate_manifest(
    ctx: Context,
    yaml_text: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_YAML_CHARS,
            description="Manifest YAML (several documents separated by '---' allowed) or JSON.",
        ),
    ],
) -> ValidationResult:
    """Validate manifest text: syntax, schema, rule semantics, and model names against the live catalog.

    Returns valid, and findings with severity, path, line, column and a hint to fix each. Broken YAML
    is reported as a finding with its line. Provider accounts defined in the same text count as
    known models. It does not contact the data plane and changes nothing (see gateway_plan for the
    diff against live state).
    """
    try:
        documents = load_text(yaml_text, file="<yaml_text>")
    except ManifestLoadError as exc:
        finding = FindingOut.of(exc.finding)
        return ValidationResult(
            valid=False, documents=[], errors=1, warnings=0, findings=[finding], catalog_checked=False
        )
    catalog = await _optional_catalog(ctx)
    findings = validate_documents(documents, catalog)
    summaries = [
        DocumentSummary(
            document=doc.index + 1,
            type=str(doc.data.get("type")) if isinstance(doc.data, dict) and doc.data.get("type") else None,
            name=str(doc.data.get("name")) if isinstance(doc.data, dict) and doc.data.get("name") else None,
        )
        for doc in documents
    ]
    errors = sum(1 for f in findings if f.severity == "error")
    return ValidationResult(
        valid=errors == 0,
        documents=summaries,
        errors=errors,
        warnings=len(findings) - errors,
        findings=[FindingOut.of(f) for f in findings],
        catalog_checked=catalog is not None,
        note=None
        if catalog is not None
        else "The control plane was not reachable: model names were checked for form only.",
    )


def register(server: MCPServer) -> None:
    add_tool(server, gateway_check_intent, title="Check a change request", annotations=READ_ONLY)
    add_tool(server, gateway_render_manifest, title="Render a manifest from an intent", annotations=READ_ONLY)
    add_tool(server, gateway_validate_manifest, title="Validate manifest YAML", annotations=READ_ONLY)
