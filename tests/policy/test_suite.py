"""Policy test suites: the example suite passes on simulated time; wrong expectations fail and say why."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import anyio
import pytest
import yaml

from tests.helpers import EXAMPLES
from tfy_gateway.policy.config import load_config
from tfy_gateway.policy.runner import SuiteResult, run_suite, simulated
from tfy_gateway.policy.suite import Suite, SuiteError, load_suite
from tfy_gateway.policy.suite_report import format_junit, format_text

SUITE = EXAMPLES / "policy-tests" / "examples.yaml"
MONTH_CASE = "engineering's $5,000 month runs out before the month does, and comes back on the 1st"


def run(data: dict[str, Any], tmp_path: Path) -> SuiteResult:
    """`data` written beside the examples' suite (its config paths stay valid), then run simulated."""
    path = tmp_path / "suite.yaml"
    data = {**data, "config": [str((SUITE.parent / name).resolve()) for name in data["config"]]}
    path.write_text(yaml.safe_dump(data))
    suite, files = load_suite(path)
    config = load_config(files, collaborators=suite.collaborators)
    return anyio.run(run_suite, suite, simulated(config))


def example() -> dict[str, Any]:
    return yaml.safe_load(SUITE.read_text())


def case(data: dict[str, Any], name_start: str) -> dict[str, Any]:
    return next(c for c in data["cases"] if c["name"].startswith(name_start))


def test_the_example_suite_passes_and_a_simulated_month_takes_well_under_five_seconds(tmp_path: Path) -> None:
    result = run(example(), tmp_path)
    assert [c.name for c in result.cases if not c.passed] == []
    assert result.passed == len(result.cases) == 8
    month = next(c for c in result.cases if c.name == MONTH_CASE)
    assert month.simulated_s > 30 * 86_400 and month.requests > 4_000
    print(
        f"\nsimulated month: {month.requests} requests over {month.simulated_s / 86_400:.1f} days in {month.elapsed_s:.3f} s"
    )


def test_a_wrong_limit_fails_naming_the_case_expected_actual_and_rule(tmp_path: Path) -> None:
    data = example()
    case(data, "bob gets")["expect"]["limited"]["after"] = 999
    result = run(data, tmp_path)
    text = format_text(result, "suite.yaml")
    assert "FAIL: bob gets 1000 gpt-4o requests a day" in text
    assert "expected: 999 requests admitted, then 429 by 'user-daily-limit'" in text
    assert "actual:   request 1000: 200 via openai-main/gpt-4o (limits applied: rate-limit user-daily-limit" in text
    assert "rule:     user-daily-limit" in text
    assert text.rstrip().endswith("PASS: 7/8\nFAIL: 1/8")


def test_a_wrong_rule_names_the_rule_that_acted_instead(tmp_path: Path) -> None:
    data = example()
    case(data, "team backend")["expect"]["limited"]["by"] = "global-fallback"
    (failed,) = [c for c in run(data, tmp_path).cases if c.failures]
    ((_, failure),) = failed.failures
    assert failure.actual == "request 11: 429 by rate-limit 'team-rpm-limit'"
    assert failure.rule == "global-fallback (expected), team-rpm-limit (acted)"


def test_wrong_shares_and_a_wrong_budget_fail_with_what_was_seen(tmp_path: Path) -> None:
    data = example()
    case(data, "openai/gpt-4o is split")["expect"]["shares"] = {"openai-main/gpt-4o": 50, "azure-backup/gpt-4o": 50}
    case(data, "engineering")["steps"][0]["expect"]["budget_blocked"]["after_usd"] = 4000
    failed = {c.name: c.failures[0][1] for c in run(data, tmp_path).cases if c.failures}
    shares = failed["openai/gpt-4o is split 70/30 between OpenAI and Azure"]
    assert "openai-main/gpt-4o 50%" in shares.expected and "azure-backup/gpt-4o 50%" in shares.expected
    assert shares.actual == "openai-main/gpt-4o 69.0%, azure-backup/gpt-4o 31.0% of 400 served requests"
    assert shares.rule == "weighted-chat"
    budget = failed[MONTH_CASE]
    assert budget.expected == "429 by budget 'team-monthly-budget' once $4,000.00 is spent"
    assert "refused by 'team-monthly-budget' after $5,000" in budget.actual


def test_junit_lists_every_case_with_its_failure(tmp_path: Path) -> None:
    data = example()
    case(data, "a virtual account")["expect"] = {"status": 200}
    result = run(data, tmp_path)
    root = ElementTree.fromstring(format_junit(result, "suite.yaml"))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "8" and suite.get("failures") == "1"
    failures = [tc for tc in suite.iter("testcase") if tc.find("failure") is not None]
    assert [tc.get("name") for tc in failures] == ["a virtual account without a grant cannot call gpt-4o"]
    assert "actual: request 1: 403 access denied" in (failures[0].find("failure").text or "")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: case(d, "bob gets").update(count=1000), "needs `count` of at least 1001"),
        (lambda d: case(d, "bob gets")["request"].update(caller="nobody"), "unknown caller 'nobody'"),
        (lambda d: case(d, "bob gets").update(every="soon"), "could not convert"),
        (lambda d: case(d, "bob gets")["expect"].update(limted={}), "limted"),
    ],
)
def test_a_malformed_suite_is_a_suite_error(tmp_path: Path, change: Any, message: str) -> None:
    data = copy.deepcopy(example())
    change(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SuiteError, match=message):
        load_suite(path)


def test_suite_fields_are_validated() -> None:
    with pytest.raises(ValueError, match="either `user"):
        Suite.model_validate({"callers": {"x": {}}, "cases": [{"name": "n", "request": {"caller": "x", "model": "m"}}]})
