"""`tfy-gateway test`: opa-test-style output, exit status and formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml

from tests.helpers import EXAMPLES, SUBPROCESS_TIMEOUT_S
from tfy_gateway.cli.main import main

SUITE = EXAMPLES / "policy-tests" / "examples.yaml"


def test_the_example_suite_passes_with_exit_0() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tfy_gateway", "test", str(SUITE)],
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{SUITE}: example policies (simulated)"
    assert sum(line.startswith("PASS: ") for line in lines) == 9  # 8 cases and the summary
    assert lines[-1] == "PASS: 8/8"


def wrong_suite(tmp_path: Path) -> Path:
    data = yaml.safe_load(SUITE.read_text())
    data["config"] = [str((SUITE.parent / name).resolve()) for name in data["config"]]
    data["cases"][2]["expect"]["limited"]["by"] = "global-fallback"  # bob's limit is user-daily-limit
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_failing_case_exits_1_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(wrong_suite(tmp_path))
    assert main(["test", path]) == 1
    text = capsys.readouterr().out
    assert "FAIL: bob gets 1000 gpt-4o requests a day" in text and text.rstrip().endswith("FAIL: 1/8")
    assert main(["test", path, "--format", "junit"]) == 1
    junit = ElementTree.fromstring(capsys.readouterr().out.split("\n", 1)[1])
    assert junit.find("testsuite").get("failures") == "1"  # type: ignore[union-attr]
    assert main(["test", path, "--format", "json"]) == 1
    (report,) = json.loads(capsys.readouterr().out)
    (failed,) = [case for case in report["cases"] if case["result"] == "fail"]
    assert failed["failures"][0]["rule"] == "global-fallback (expected), user-daily-limit (acted)"


def test_unreadable_suites_and_configs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(tmp_path / "missing.yaml")]) == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        yaml.safe_dump(
            {"config": ["nowhere.yaml"], "cases": [{"name": "x", "request": {"caller": "user:a@x", "model": "m"}}]}
        )
    )
    assert main(["test", str(broken)]) == 2
    assert "nowhere.yaml" in capsys.readouterr().err
