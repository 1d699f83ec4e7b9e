"""A guardrail check's report (metrics and log text) from its outcome's remembered series: what
reporting each check anew gives, to the byte."""

from __future__ import annotations

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tfy_gateway.gateway.config import EMPTY_CONFIG
from tfy_gateway.gateway.data_plane.check_series import observe_checks
from tfy_gateway.gateway.guardrails.checks import Check
from tfy_gateway.gateway.metrics import GatewayMetrics
from tfy_gateway.gateway.tallies import ShapeCache

CHECKS = [
    Check("pii/email", "input", "validate", "enforce", "pass", 0.0123456),
    Check("pii/email", "input", "validate", "enforce", "pass", 1.9996),
    Check("regex/secrets", "input", "validate", "enforce", "fail", 3.25, "found an API key"),
    Check("regex/secrets", "input", "validate", "audit", "fail", 0.5, "found an API key"),
    Check("remote/judge", "output", "validate", "enforce", "error", 1250.0, 'timed out "after" 1.2 s'),
    Check("remote/judge", "output", "validate", "enforce_but_ignore_on_error", "error", 7.0, "unreachable"),
    Check("mask/pii", "output", "mutate", "audit", "mutate", 0.0),
    Check("mask/pii", "output", "mutate", "enforce", "mutate", 12345.6789),
    Check("cloud/moderation", "input", "validate", "enforce", "skipped", 0.0, "not run by the local gateway"),
    Check("pii/email", "input", "validate", "enforce", "pass", 0.0004),
]


def reported_anew(checks: list[Check], metrics: GatewayMetrics) -> str:
    """What the observe stage did before outcomes were remembered: three lookups and a dict a check."""
    for check in checks:
        metrics.child(metrics.guardrail_checks, check.guardrail, check.stage, check.result).inc()
        if check.blocks:
            metrics.child(metrics.guardrail_blocks, check.guardrail, check.stage).inc()
        if check.result != "skipped":
            metrics.child(metrics.guardrail_latency, check.guardrail).observe(check.latency_ms / 1000)
    return orjson.dumps([check.to_dict() for check in checks]).decode() if checks else "[]"


def samples(metrics: GatewayMetrics) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    text = metrics.render().decode()
    return sorted(
        (sample.name, tuple(sorted(sample.labels.items())), sample.value)
        for family in text_string_to_metric_families(text)
        if family.name.startswith("tfy_gateway_guardrail")
        for sample in family.samples
        if not sample.name.endswith("_created")
    )


def test_remembered_outcomes_report_what_reporting_anew_reports() -> None:
    remembered, anew, known = GatewayMetrics(), GatewayMetrics(), ShapeCache()
    requests = [CHECKS[:2], CHECKS[2:4], [], CHECKS[4:], CHECKS, CHECKS[::-1], [CHECKS[0]]]
    for checks in requests * 2:
        assert observe_checks(checks, remembered, known, EMPTY_CONFIG) == reported_anew(checks, anew)
    assert samples(remembered) == samples(anew)
    assert [name for name, _, value in samples(remembered) if name.endswith("_total") and value] != []


def test_a_new_configuration_reports_its_checks_too() -> None:
    metrics, known = GatewayMetrics(), ShapeCache()
    observe_checks(CHECKS[:1], metrics, known, EMPTY_CONFIG)
    text = observe_checks(CHECKS[:1], metrics, known, object())
    assert orjson.loads(text) == [CHECKS[0].to_dict()]
    counted = [value for name, labels, value in samples(metrics) if name == "tfy_gateway_guardrail_checks_total"]
    assert counted == [2.0]
