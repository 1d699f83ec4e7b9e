"""`Router.explain`: why a rule matched, why earlier ones did not, candidates, sticky, attempts."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.gateway.routing.conftest import Clock, RouterUnderTest, example, request
from tfy_gateway.gateway.routing import Outcome

A, B = "openai-main/gpt-4o", "azure-backup/gpt-4o"


def combined() -> dict:
    rules = [
        *example("routing-priority.yaml")[0]["rules"],
        *example("routing-sticky.yaml")[0]["rules"],
        *example("routing-weighted.yaml")[0]["rules"],
    ]
    return {"name": "all", "type": "gateway-load-balancing-config", "rules": rules}


def test_explain_names_the_rule_and_why_earlier_ones_failed(make_router: Callable[..., RouterUnderTest]) -> None:
    router = make_router(combined())
    report = router.explain(request("openai/gpt-4o", "user:a@x", headers={"x-user-id": "u1"}))
    json.dumps(report)  # JSON-serialisable as it is
    assert report["matched_rule"] == "sticky-chat" and report["config_name"] == "all"
    first = report["rules"][0]
    assert first["id"] == "priority-chat" and not first["matched"]
    assert first["reason"].startswith("subjects:") and "team:premium" in first["reason"]
    assert report["rules"][1]["matched"] and len(report["rules"]) == 2, "rules after the match are not evaluated"
    assert [c["target"] for c in report["candidates"]] == [A, B]
    assert [c["probability"] for c in report["candidates"]] == [0.5, 0.5]
    assert report["sticky"]["sticky"] is True and report["sticky"]["pinned_target"] is None
    assert sorted(report["attempts"]) == sorted([A, B])


def test_explain_does_not_pin_or_consume_randomness(make_router: Callable[..., RouterUnderTest]) -> None:
    plain, explained = make_router(*example("routing-sticky.yaml")), make_router(*example("routing-sticky.yaml"))
    sticky = request(headers={"x-user-id": "u1"})
    for _ in range(20):
        explained.explain(request())
        explained.explain(sticky)
    assert explained.explain(sticky)["sticky"]["pinned_target"] is None
    assert [plain.plan(request()).attempts[0].target for _ in range(50)] == [
        explained.plan(request()).attempts[0].target for _ in range(50)
    ]
    pinned = explained.plan(sticky).attempts[0].target
    report = explained.explain(sticky)
    assert report["sticky"]["pinned_target"] == pinned and report["attempts"][0] == pinned


def test_explain_shows_health_and_priority_order(make_router: Callable[..., RouterUnderTest], clock: Clock) -> None:
    router = make_router(*example("routing-priority.yaml"))
    premium = request("x", "team:premium")
    router.record(router.plan(premium).attempts[0], Outcome(200, tpot_ms=99))
    report = router.explain(premium)
    a, b = report["candidates"]
    assert (a["target"], a["healthy"], a["priority"]) == (A, False, 0)
    assert a["unhealthy_for_s"] == 60 and a["sla_cutoff"]["time_per_output_token_ms"] == 50
    assert b["healthy"] and report["attempts"] == [B, A]
    assert report["attempt_details"][0]["retry"] == {
        "attempts": 2,
        "delay_ms": 100,
        "on_status_codes": [429, 500, 502, 503],
    }


def test_explain_latency_stats_and_no_match(make_router: Callable[..., RouterUnderTest], clock: Clock) -> None:
    router = make_router(*example("routing-latency.yaml"))
    for tpot in (10, 20, 30):
        router.latency.record(A, clock.now, tpot)
    report = router.explain(request())
    assert report["candidates"][0]["latency"] == {"samples": 3, "mean_tpot_ms": 20.0, "judged": True}
    assert report["candidates"][1]["latency"]["judged"] is False
    none = router.explain(request("other/model"))
    assert none["matched_rule"] is None and none["attempts"] == ["other/model"]
    assert "models: 'other/model' is not in ['openai/gpt-4o']" in none["rules"][0]["reason"]


def test_explain_metadata_reasons(make_router: Callable[..., RouterUnderTest]) -> None:
    config = example("routing-weighted.yaml")[0]
    config["rules"][0]["when"]["metadata"] = {"env": "prod"}
    config["rules"][0]["load_balance_targets"][1]["metadata_match"] = {"region": "eu"}
    router = make_router(config)
    assert "'env' is missing" in router.explain(request())["rules"][0]["reason"]
    assert "'env' is 'dev'" in router.explain(request(metadata={"env": "dev"}))["rules"][0]["reason"]
    report = router.explain(request(metadata={"env": "prod"}))
    assert report["candidates"][1]["eligible"] is False
    assert "'region' is missing" in report["candidates"][1]["excluded_because"]
    assert report["attempts"] == [A]
