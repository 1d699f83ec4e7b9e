"""`x-tfy-applied-configurations` with a guardrail report: encoded once per shape and outcome, and
saying exactly what the report's checks came to."""

from __future__ import annotations

import json
from typing import Any

from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS
from tfy_gateway.gateway.data_plane.response_headers import applied_header
from tfy_gateway.gateway.guardrails.checks import Check, GuardrailReport, Result, Stage, Strategy


def check(guardrail: str, stage: Stage, strategy: Strategy, result: Result) -> Check:
    operation = "mutate" if result == "mutate" else "validate"
    return Check(guardrail, stage, operation, strategy, result, latency_ms=0.5)


def request(*checks: Check) -> RequestContext:
    config: Any = None  # the header reads the request's plan, limits and report only
    context = RequestContext(endpoint=ENDPOINTS["chat/completions"], config=config)
    context.guardrails = GuardrailReport(("input-rule",), list(checks))
    return context


def test_alike_reports_share_one_encoded_header() -> None:
    first = applied_header(
        request(check("g/regex", "input", "audit", "pass"), check("g/pii", "input", "audit", "pass"))
    )
    again = applied_header(
        request(check("g/regex", "input", "audit", "pass"), check("g/pii", "input", "audit", "pass"))
    )
    assert again is first
    assert json.loads(first) == {"guardrails": {"rules": ["input-rule"], "input": ["g/regex", "g/pii"]}}


def test_the_header_says_what_each_outcome_came_to() -> None:
    checks = (
        check("g/audit-fail", "input", "audit", "fail"),
        check("g/error", "input", "enforce_but_ignore_on_error", "error"),
        check("g/blocking", "input", "enforce", "fail"),
        check("g/rewrite", "output", "enforce", "mutate"),
        check("g/audit-rewrite", "output", "audit", "mutate"),
        check("g/skipped", "output", "enforce", "skipped"),
    )
    context = request(*checks)
    applied = json.loads(applied_header(context))["guardrails"]
    assert applied == {
        "rules": ["input-rule"],
        "input": ["g/audit-fail", "g/error", "g/blocking"],
        "output": ["g/rewrite", "g/audit-rewrite", "g/skipped"],
        "flagged": ["g/audit-fail", "g/error"],
        "mutated": ["g/rewrite"],
    }
    assert context.guardrails is not None and context.guardrails.applied() == applied
    passed = json.loads(applied_header(request(check("g/audit-fail", "input", "audit", "pass"))))["guardrails"]
    assert passed == {"rules": ["input-rule"], "input": ["g/audit-fail"]}
