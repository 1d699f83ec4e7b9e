"""`x-tfy-applied-configurations` with a guardrail report: encoded once per shape and outcome, and
saying exactly what the report's checks came to."""

from __future__ import annotations

import json
from typing import Any

from tfy_gateway.gateway.applied import Headroom
from tfy_gateway.gateway.data_plane.context import RequestContext
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS
from tfy_gateway.gateway.data_plane.response_headers import applied_header, limit_headers
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


def test_limit_headers_write_each_kind_of_limit_and_what_is_left() -> None:
    rooms = (Headroom("tokens", 1000, 250, 12.2), Headroom("cost", 2.5, 0.125, None))
    expected = [
        (b"x-ratelimit-limit-tokens", b"1000"),
        (b"x-ratelimit-remaining-tokens", b"250"),
        (b"x-ratelimit-reset-tokens", b"13"),
        (b"x-ratelimit-limit-cost", b"2.5"),
        (b"x-ratelimit-remaining-cost", b"0.125"),
    ]
    assert limit_headers(rooms) == expected
    assert limit_headers(rooms) == expected, "the second time, from the kept texts"
    # The same limit as a whole float and as an int reads the same; another limit, its own value.
    assert limit_headers((Headroom("cost", 3.0, 1.0, 0.0),))[:2] == [
        (b"x-ratelimit-limit-cost", b"3"),
        (b"x-ratelimit-remaining-cost", b"1"),
    ]
    assert limit_headers((Headroom("cost", 3, 0, 0.0),))[0] == (b"x-ratelimit-limit-cost", b"3")
