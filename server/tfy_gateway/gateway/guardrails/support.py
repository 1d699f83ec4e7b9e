"""What applying a guardrail manifest to this gateway must say: the parts it does not enforce.

The gateway stores every valid manifest (so the platform's tools round-trip it) but never lets an
apply vouch for a check that will not happen here:
- a guardrail group: each integration of a type this gateway does not run is a warning (requests
  report it as skipped); `tfy-pii` categories that cannot be recognised offline are refused (an
  error: the gateway would otherwise pass what the user asked it to block), and `*` is accepted with
  a warning that it means the locally detectable categories;
- a guardrails config: each rule that lists a guardrail this gateway does not run is a warning, and
  so are MCP tool guardrails (this gateway has no MCP gateway).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from tfy_gateway.gateway.guardrails.pii import DETECTORS
from tfy_gateway.gateway.guardrails.registry import KEY_AUTH_ONLY, kind_of, runs_locally
from tfy_gateway.manifests.findings import Finding, finding
from tfy_gateway.manifests.guardrail_groups import AnyGuardrail, GuardrailConfigGroup
from tfy_gateway.manifests.guardrail_integrations import TfyPiiGuardrail
from tfy_gateway.manifests.guardrails import GuardrailsConfig

NOT_ENFORCED = "not-enforced-locally"
MCP_LISTS = ("mcp_tool_pre_invoke_guardrails", "mcp_tool_post_invoke_guardrails")


def group_findings(group: GuardrailConfigGroup) -> list[Finding]:
    return list(_group(group))


def _group(group: GuardrailConfigGroup) -> Iterator[Finding]:
    for index, integration in enumerate(group.integrations):
        loc = ("integrations", index)
        ref = f"{group.name}/{integration.name}"
        if not runs_locally(integration):
            yield finding("warning", NOT_ENFORCED, _not_run(ref, integration), (*loc, "type"))
        if isinstance(integration, TfyPiiGuardrail):
            yield from _pii(ref, integration.config.pii_categories, (*loc, "config", "pii_categories"))


def _not_run(ref: str, integration: AnyGuardrail) -> str:
    kind = kind_of(integration)
    if kind in KEY_AUTH_ONLY:
        return (
            f"{ref}: the local gateway calls {kind} with auth_data type api-key only; with this auth_data "
            "requests skip it here (logged as skipped). The platform runs it once applied there."
        )
    return (
        f"{ref}: the local gateway does not run {kind} guardrails; requests skip it here (logged as "
        "skipped, and counted as such in /metrics). The platform runs it once applied there."
    )


def _pii(ref: str, categories: list[str], loc: tuple[str | int, ...]) -> Iterator[Finding]:
    supported = ", ".join(DETECTORS)
    for index, category in enumerate(categories):
        if category == "*":
            yield finding(
                "warning",
                NOT_ENFORCED,
                f"{ref}: '*' means, on the local gateway, the {len(DETECTORS)} categories it recognises "
                f"offline ({supported}); the platform detects every Azure PII category",
                (*loc, index),
            )
        elif category not in DETECTORS:
            yield finding(
                "error",
                "pii-category-unsupported",
                f"{ref}: the local gateway cannot recognise {category} offline (it needs a language model or "
                "has no checkable form), so it refuses to accept a check it would not perform",
                (*loc, index),
                hint=f"categories it recognises: {supported}; keep {category} for the platform only",
            )


def rules_findings(config: GuardrailsConfig, groups: Iterable[GuardrailConfigGroup]) -> list[Finding]:
    integrations: Mapping[str, AnyGuardrail] = {
        f"{group.name}/{item.name}": item for group in groups for item in group.integrations
    }
    return list(_rules(config, integrations))


def _rules(config: GuardrailsConfig, integrations: Mapping[str, AnyGuardrail]) -> Iterator[Finding]:
    for index, rule in enumerate(config.rules):
        for field in ("llm_input_guardrails", "llm_output_guardrails"):
            for position, ref in enumerate(getattr(rule, field)):
                integration = integrations.get(ref)
                if integration is not None and not runs_locally(integration):
                    yield finding(
                        "warning",
                        NOT_ENFORCED,
                        f"rule '{rule.id}' lists {ref}, a {kind_of(integration)} guardrail the local gateway "
                        "does not run: requests skip it here (the platform runs it)",
                        ("rules", index, field, position),
                    )
        for field in MCP_LISTS:
            if getattr(rule, field):
                yield finding(
                    "warning",
                    NOT_ENFORCED,
                    f"rule '{rule.id}': MCP tool guardrails are stored but not enforced by the local gateway "
                    "(it has no MCP gateway); the platform enforces them",
                    ("rules", index, field),
                )
