"""references/policy-tests.md: its suite passes, and its failure output is what a wrong expectation prints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import yaml

from tests.helpers import REPO_ROOT
from tfy_gateway.policy.config import load_config
from tfy_gateway.policy.runner import SuiteResult, run_suite, simulated
from tfy_gateway.policy.suite import load_suite
from tfy_gateway.policy.suite_report import format_text

REFERENCE = REPO_ROOT / "references" / "policy-tests.md"
BLOCK = re.compile(r"<!-- policy-(suite|output): ([\w-]+) -->\s*```(?:yaml)?\n(.*?)```", re.S)
TIMING = re.compile(r" \([\d,]+ requests.*\)$")


def blocks() -> dict[tuple[str, str], str]:
    return {(kind, name): body for kind, name, body in BLOCK.findall(REFERENCE.read_text(encoding="utf-8"))}


def run(data: dict[str, Any], tmp_path: Path) -> SuiteResult:
    data = {**data, "config": [str(REPO_ROOT / name) for name in data["config"]]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    suite, files = load_suite(path)
    return anyio.run(run_suite, suite, simulated(load_config(files, collaborators=suite.collaborators)))


def test_the_reference_suite_passes(tmp_path: Path) -> None:
    result = run(yaml.safe_load(blocks()[("suite", "budgets-and-limits")]), tmp_path)
    assert [(c.name, c.failures) for c in result.cases if not c.passed] == []
    assert result.passed == 4


def test_the_failure_shown_is_what_a_wrong_expectation_prints(tmp_path: Path) -> None:
    data = yaml.safe_load(blocks()[("suite", "budgets-and-limits")])
    data["cases"][0]["expect"]["limited"]["after"] = 999
    text = format_text(run(data, tmp_path), "suite.yaml")
    printed = [TIMING.sub("", line) for line in text.splitlines()]
    shown = [TIMING.sub("", line) for line in blocks()[("output", "wrong-limit")].strip().splitlines()]
    start = printed.index(shown[0])
    assert printed[start : start + len(shown)] == shown
    assert printed[-2:] == ["PASS: 3/4", "FAIL: 1/4"]
