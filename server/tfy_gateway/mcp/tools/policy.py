"""Policy tools: policy tests and the V1 -> V2 limits migrator (with its equivalence report), before applying.

They simulate in this process (the gateway's own limiter on a simulated clock, `tfy_gateway.policy`)
and read the live control plane only for its current V1 configs and request logs; they never apply.
"""

from __future__ import annotations

import logging
from collections import Counter
from functools import partial
from typing import Annotated, Any, Literal

import anyio
import yaml
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from tfy_gateway.manifests import ManifestLoadError, load_text
from tfy_gateway.mcp.findings import FindingOut
from tfy_gateway.mcp.live import live_manifests
from tfy_gateway.mcp.state import state_of
from tfy_gateway.mcp.tools.base import add_tool
from tfy_gateway.platform import ControlPlaneClient, ControlPlaneError
from tfy_gateway.policy.config import PolicyConfigError, validated
from tfy_gateway.policy.equivalence import grouped
from tfy_gateway.policy.migration import BUDGETS_V1, RATE_LIMITS_V1, MigrationResult, NothingToMigrate, run_migration
from tfy_gateway.policy.migration_text import describe_request
from tfy_gateway.policy.recorded import recorded_traffic
from tfy_gateway.policy.replay import replay
from tfy_gateway.policy.runner import run_suite, simulated
from tfy_gateway.policy.suite import Suite
from tfy_gateway.policy.suite_report import format_text
from tfy_gateway.policy.traffic import SimRequest

logger = logging.getLogger(__name__)

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
MAX_YAML_CHARS = 200_000
LOG_RECORDS = 1_000  # the most the logs API returns in one page
EXAMPLES = 2


class RuleOut(BaseModel):
    kind: Literal["rate_limit", "budget"]
    v1_rule: str
    v2_names: list[str]
    exact: bool = Field(description="No note says V2 behaves differently for this rule.")
    notes: list[str] = Field(description="code: what V2 cannot express and the choice made.")


class DifferenceGroup(BaseModel):
    code: str = Field(description="first-match, excluded, widened, counter, knock-on or audit.")
    v1: str
    v2: str
    requests: int
    examples: list[str] = Field(description="'request N (caller -> model {metadata}): reason'.")


class FamilyOut(BaseModel):
    family: Literal["rate limits", "budgets"]
    traffic: Literal["generated", "recorded"]
    requests: int
    differing: int = Field(description="Requests admitted on one side and refused on the other.")
    v1_refused: int
    v2_refused: int
    groups: list[DifferenceGroup]


class MigrateResult(BaseModel):
    rate_limits_yaml: str = Field(description="tenant-rate-limit-config/model manifests ('' when none).")
    budgets_yaml: str = Field(description="tenant-budget-config / team-budget-config manifests ('' when none).")
    valid: bool
    findings: list[FindingOut]
    rules: list[RuleOut]
    equivalence: list[FamilyOut]
    next_step: str


async def gateway_migrate_limits(
    ctx: Context,
    yaml_text: Annotated[
        str | None,
        Field(
            default=None,
            max_length=MAX_YAML_CHARS,
            description="V1 gateway-rate-limiting-config / gateway-budget-config YAML (team manifests may "
            "follow). Omit to migrate the live control plane's V1 configs.",
        ),
    ] = None,
    strategy: Annotated[
        Literal["exclusive", "overlap"],
        Field(
            description="exclusive: V2 leaves out what earlier V1 rules decide, where it can; overlap: keep V1 whens."
        ),
    ] = "exclusive",
    audit: Annotated[bool, Field(description="Write every V2 limit in audit mode (a staged rollout).")] = False,
    use_request_logs: Annotated[
        bool, Field(description="Replay the live gateway's recent request logs instead of generated traffic.")
    ] = False,
) -> MigrateResult:
    """Migrate V1 rate limits and budgets to V2 manifests, and show where V2 would decide differently.

    V1 (gateway-rate-limiting-config, gateway-budget-config) lets the first matching rule decide;
    V2 (tenant-rate-limit-config/model, tenant-budget-config, team-budget-config) makes every
    matching limit decide. Returns the V2 YAML (validated), per V1 rule what V2 cannot express and
    the closest choice made, and an equivalence report: traffic (the live request logs, or traffic
    generated to meet every rule with every kind of caller, model and metadata) replayed against V1
    and V2 in process, with the requests whose outcome differs grouped by reason. Applies nothing:
    show the YAML and the differences, then use gateway_plan on the YAML. V1 rate limits are removed
    from the platform on 2026-12-15.
    """
    state = state_of(ctx)
    manifests: list[dict[str, Any]] = []
    if yaml_text:
        try:
            manifests = [d.data for d in load_text(yaml_text, file="<yaml_text>") if isinstance(d.data, dict)]
        except ManifestLoadError as exc:
            raise ToolError(exc.finding.format()) from None
    recorded: list[SimRequest] | None = None
    if not manifests or use_request_logs:
        async with state.control_plane() as client:
            if not manifests:
                for kind in (RATE_LIMITS_V1, BUDGETS_V1):
                    if (live := await client.get_config(kind)) is not None:
                        manifests.append(live)
            if use_request_logs:
                page = await client.query_logs(limit=LOG_RECORDS)
                recorded = recorded_traffic(page.get("data") or [])
    try:
        # Simulating is CPU work: a worker thread keeps this server answering meanwhile.
        migrating = partial(run_migration, manifests, strategy=strategy, recorded=recorded or None, audit=audit)
        result = await anyio.to_thread.run_sync(anyio.run, migrating)
    except NothingToMigrate as exc:
        raise ToolError(f"{exc}. Nothing to migrate: V2 limits are already the current form.") from None
    return _result(result)


def _result(result: MigrationResult) -> MigrateResult:
    families = []
    for family in result.families:
        report = family.report
        groups = [
            DifferenceGroup(
                code=group.code,
                v1=group.v1,
                v2=group.v2,
                requests=len(group.members),
                examples=[
                    f"request {m.index} ({describe_request(m.request)}): {m.reason}" for m in group.members[:EXAMPLES]
                ],
            )
            for group in grouped(report)
        ]
        families.append(
            FamilyOut(
                family="rate limits" if family.family == "rate limits" else "budgets",
                traffic="recorded" if report.source == "recorded" else "generated",
                requests=report.requests,
                differing=len(report.differences),
                v1_refused=report.refused.get("v1", (0, 0))[0],
                v2_refused=report.refused.get("v2", (0, 0))[0],
                groups=groups,
            )
        )
    rules = [
        RuleOut(
            kind=t.kind,
            v1_rule=t.rule_id,
            v2_names=t.names,
            exact=t.exact,
            notes=[f"{n.code}: {n.message}" for n in t.notes],
        )
        for t in result.migration.translations
    ]
    step = (
        "Show the user each rule's notes and the differing groups; if they accept them, run gateway_plan on "
        "rate_limits_yaml and budgets_yaml (consider audit=true first), and delete the V1 configs only after "
        "the V2 limits are applied."
        if result.valid
        else "The V2 manifests have errors (findings): report them; do not plan them."
    )
    return MigrateResult(
        rate_limits_yaml=result.rate_limits_yaml,
        budgets_yaml=result.budgets_yaml,
        valid=result.valid,
        findings=[FindingOut.of(f) for f in result.findings],
        rules=rules,
        equivalence=families,
        next_step=step,
    )


class CaseOut(BaseModel):
    name: str
    result: Literal["pass", "fail", "skip"]
    requests: int
    failures: list[str] = Field(description="'step N: expected ...; actual ...; rule ...' per failed check.")


class PolicyTestResult(BaseModel):
    passed: int
    failed: int
    skipped: int
    cases: list[CaseOut]
    config_from: list[str] = Field(description="Where the manifests tested came from: live, proposed.")
    text: str = Field(description="The opa-test style report, as `tfy-gateway test` prints it.")


async def gateway_test_policies(
    ctx: Context,
    suite_yaml: Annotated[
        str,
        Field(min_length=1, max_length=MAX_YAML_CHARS, description="A policy test suite (references/policy-tests.md)."),
    ],
    manifests_yaml: Annotated[
        str | None,
        Field(
            default=None,
            max_length=MAX_YAML_CHARS,
            description="Proposed manifests, tested on top of the live config (they replace live resources "
            "of the same identity).",
        ),
    ] = None,
    use_live_config: Annotated[
        bool, Field(description="Start from the live control plane's provider accounts, routing and limits.")
    ] = True,
) -> PolicyTestResult:
    """Run a policy test suite in process, on a simulated clock, against the live config plus proposed manifests.

    Each case sends a request shape N times (optionally over simulated days) and checks outcomes:
    served by a target or rule, traffic shares within a tolerance, a 429 from a named rule after N
    requests, a budget block after $X, access denied. Nothing is sent to any provider and nothing is
    applied: the gateway's own routing, access check and limiter decide. Use it before gateway_plan:
    write a suite for the intent next to the manifest you propose, and report each FAIL (case,
    expected, actual, rule). The suite's own `config` file list is ignored here.
    """
    try:
        suite = Suite.model_validate(yaml.safe_load(suite_yaml))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ToolError(f"the suite is not valid: {exc}") from None
    manifests: list[dict[str, Any]] = []
    sources = []
    if use_live_config and state_of(ctx).settings is not None:
        async with state_of(ctx).control_plane() as client:
            manifests += await live_manifests(client)
        sources.append("live")
    if manifests_yaml:
        try:
            manifests += [
                d.data for d in load_text(manifests_yaml, file="<manifests_yaml>") if isinstance(d.data, dict)
            ]
        except ManifestLoadError as exc:
            raise ToolError(exc.finding.format()) from None
        sources.append("proposed")
    try:
        config = validated(manifests, collaborators=suite.collaborators)
    except PolicyConfigError as exc:
        raise ToolError(str(exc)) from None
    result = await run_suite(suite, simulated(config))
    cases = [
        CaseOut(
            name=case.name,
            result="skip" if case.skipped else "pass" if case.passed else "fail",
            requests=case.requests,
            failures=[f"step {n}: expected {f.expected}; actual {f.actual}; rule {f.rule}" for n, f in case.failures],
        )
        for case in result.cases
    ]
    return PolicyTestResult(
        passed=result.passed,
        failed=result.failed,
        skipped=result.skipped,
        cases=cases,
        config_from=sources,
        text=format_text(result, "suite"),
    )


class Impact(BaseModel):
    """What the plan would have done to the gateway's recent traffic (replayed in process)."""

    requests: int = Field(description="Recent requests replayed (request logs of the last 24 hours).")
    newly_refused: int
    newly_admitted: int
    newly_denied: int
    rerouted: int
    by_rule: dict[str, int] = Field(description="Newly refused requests per refusing rule.")
    summary: str


IMPACT_TYPES = ("gateway-", "tenant-", "team-budget-config", "provider-account/")
IMPACT_REQUESTS = 5_000


async def plan_impact(client: ControlPlaneClient, planned: list[dict[str, Any]]) -> Impact | None:
    """Replay the recent request logs against the live config and the live config plus `planned`;
    None when nothing planned touches routing, access or limits, no logs exist, or it cannot run."""
    if not any(str(m.get("type", "")).startswith(IMPACT_TYPES) for m in planned):
        return None
    try:
        page = await client.query_logs(limit=LOG_RECORDS, since="24h")
        records = [r for r in page.get("data") or () if isinstance(r, dict)]
        if not records:
            return None
        live = await live_manifests(client)
        traffic = recorded_traffic(records)[:IMPACT_REQUESTS]
        current, proposed = validated(live), validated([*live, *planned])
    except (ControlPlaneError, PolicyConfigError) as exc:
        logger.info("no impact summary for this plan: %s", exc)
        return None
    report = await anyio.to_thread.run_sync(anyio.run, partial(replay, traffic, current, proposed))
    by_rule = Counter(c.proposed.refused_by or "?" for c in report.of("newly-refused"))
    counts = {kind: len(report.of(kind)) for kind in ("newly-refused", "newly-admitted", "newly-denied", "rerouted")}
    changed = ", ".join(f"{n} {kind.replace('-', ' ')}" for kind, n in counts.items() if n) or "no request changes"
    return Impact(
        requests=report.requests,
        newly_refused=counts["newly-refused"],
        newly_admitted=counts["newly-admitted"],
        newly_denied=counts["newly-denied"],
        rerouted=counts["rerouted"],
        by_rule=dict(by_rule),
        summary=f"replaying the last {report.requests} requests: {changed}",
    )


def register(server: MCPServer) -> None:
    add_tool(server, gateway_migrate_limits, title="Migrate V1 limits to V2, with proof", annotations=READ_ONLY)
    add_tool(server, gateway_test_policies, title="Run policy tests on a simulated clock", annotations=READ_ONLY)
