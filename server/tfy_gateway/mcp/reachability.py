"""A change must not add a rule that can never apply.

The validator only warns about a shadowed rule (a live config may already hold one, and refusing
every later change to it would help nobody). A plan that *adds or changes* such a rule is different:
applying it silently does nothing, which is what "send 30% of gpt-4o to Azure" did when a rule
already routed gpt-4o. `gateway_plan` turns those warnings into `unreachable-rule` errors unless the
caller forces the plan; rules that were live unchanged keep their warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tfy_gateway.manifests import Document, Finding

SHADOWED = "shadowed-rule"
UNREACHABLE = "unreachable-rule"


def _rule_at(document: Document, finding: Finding) -> Mapping[str, Any] | None:
    loc = finding.loc
    rules = document.data.get("rules") if isinstance(document.data, dict) else None
    if len(loc) < 2 or loc[0] != "rules" or not isinstance(loc[1], int) or not isinstance(rules, list):
        return None
    rule = rules[loc[1]] if loc[1] < len(rules) else None
    return rule if isinstance(rule, Mapping) else None


def _live_rules(live: Mapping[str, Any] | None) -> list[Any]:
    rules = live.get("rules") if live else None
    return rules if isinstance(rules, list) else []


def new_unreachable(
    findings: Sequence[Finding],
    documents: Sequence[Document],
    live_configs: Mapping[str, Mapping[str, Any] | None],
    *,
    force: bool,
) -> list[Finding]:
    """`findings` with each shadowed rule that is not live as it is made an error (a warning if `force`)."""
    by_number = {doc.index + 1: doc for doc in documents}
    result: list[Finding] = []
    for finding in findings:
        document = by_number.get(finding.document or 0)
        if finding.code != SHADOWED or document is None:
            result.append(finding)
            continue
        rule = _rule_at(document, finding)
        live = live_configs.get(str(document.data.get("type")))
        if rule is None or rule in _live_rules(live):
            result.append(finding)
            continue
        result.append(
            replace(
                finding,
                severity="warning" if force else "error",
                code=UNREACHABLE,
                message=f"this change adds a rule that can never apply: {finding.message}",
                hint=(
                    "change the earlier rule instead (same matcher: give the new rule its id), or move the new "
                    "rule above it; gateway_render_manifest does this for route intents"
                    + ("" if force else "; pass force=true to plan it anyway")
                ),
            )
        )
    return result
