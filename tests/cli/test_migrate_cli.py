"""`tfy-gateway migrate limits`: files written, the report printed, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import EXAMPLES, SUBPROCESS_TIMEOUT_S
from tfy_gateway.cli.main import main


def test_migrating_the_examples_writes_valid_v2_manifests_and_the_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "tfy_gateway", "migrate", "limits", str(EXAMPLES / "rate-limits.yaml"),
         str(EXAMPLES / "budgets.yaml"), "--out", str(out)],
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    names = [m["name"] for m in yaml.safe_load_all((out / "rate-limits-v2.yaml").read_text()) if m]
    assert names[0] == "team-rpm-limit" and "global-fallback-virtual-accounts" in names
    assert "the V2 manifests validate (0 errors" in result.stdout
    assert "rate limit user-daily-limit -> user-daily-limit" in result.stdout
    assert "budgets: " in result.stdout and "same outcome for every request" in result.stdout
    report = json.loads((out / "migration-report.json").read_text())
    rate_limits = report["equivalence"][0]
    assert rate_limits["family"] == "rate limits" and len(rate_limits["differences"]) > 0
    assert {"request", "caller", "model", "v1", "v2", "code", "reason"} <= set(rate_limits["differences"][0])
    checked = subprocess.run(
        [sys.executable, "-m", "tfy_gateway", "validate", str(out / "rate-limits-v2.yaml"), str(out / "budgets-v2.yaml")],
        capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_fail_on_difference_and_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rate_limits = str(EXAMPLES / "rate-limits.yaml")
    assert main(["migrate", "limits", rate_limits, "--out", str(tmp_path / "a"), "--fail-on-difference"]) == 1
    capsys.readouterr()
    assert main(["migrate", "limits", str(EXAMPLES / "budgets.yaml"), "--out", str(tmp_path / "b"),
                 "--fail-on-difference", "--format", "json"]) == 0  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    assert printed["valid"] is True and printed["equivalence"][0]["equivalent"] is True
    assert main(["migrate", "limits", str(EXAMPLES / "routing-weighted.yaml"), "--out", str(tmp_path / "c")]) == 2
    assert "no gateway-rate-limiting-config or gateway-budget-config" in capsys.readouterr().err
    assert main(["migrate", "limits", rate_limits, "--logs", str(tmp_path / "missing.json")]) == 2
