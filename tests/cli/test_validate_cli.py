"""`tfy-gateway validate` as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import EXAMPLES, SUBPROCESS_TIMEOUT_S


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfy_gateway", *args], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S
    )


def test_examples_validate_with_exit_0() -> None:
    result = run("validate", *map(str, sorted(EXAMPLES.glob("*.yaml"))))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stderr


def test_errors_print_file_line_column_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: r\ntype: gateway-rate-limiting-config\nrules:\n  - id: a\n    when: {}\n    limit_to: 5\n    unit: rpm\n"
    )
    result = run("validate", str(bad))
    assert result.returncode == 1
    assert f"{bad}:7:11: error: invalid value 'rpm' for 'unit'" in result.stdout
    assert "(rules[0].unit)" in result.stdout


def test_json_format(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntype: provider-account/nvidia-nim\n")
    result = run("validate", "--format", "json", str(bad))
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["ok"] is False
    assert report["findings"][0]["code"] == "unknown-type" and report["findings"][0]["line"] == 2


def test_broken_yaml_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: [x\n")
    result = run("validate", str(bad))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{bad}:2:1: error: invalid YAML" in result.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("validate").returncode == 2
    assert run("validate", str(tmp_path / "missing.yaml")).returncode == 2


def test_strict_turns_warnings_into_failure() -> None:
    assert run("validate", "--strict", str(EXAMPLES / "budgets.yaml")).returncode == 1


def test_a_v1_rate_limit_config_points_to_the_migrator() -> None:
    result = run("validate", str(EXAMPLES / "rate-limits.yaml"))
    assert result.returncode == 0
    assert "removed from the platform on 2026-12-15" in result.stderr
    assert f"tfy-gateway migrate limits {EXAMPLES / 'rate-limits.yaml'}" in result.stderr
    assert "migrate" not in run("validate", str(EXAMPLES / "budgets-v2.yaml")).stderr
