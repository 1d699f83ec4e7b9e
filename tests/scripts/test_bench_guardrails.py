"""scripts/bench_guardrails.py in a tiny mode, so that it cannot rot: every case prints a figure. No
timing assertions."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S

SCRIPT = REPO_ROOT / "scripts" / "bench_guardrails.py"


def test_tiny_run_reports_regex_and_pii_on_1_and_32_kb() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--rounds", "1", "--seconds", "0.02"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = dict(re.findall(r"^(.+?)\s{2,}(\d+\.\d)$", result.stdout, re.MULTILINE))
    for case in ("regex, 1 KB, clean", "regex, 32 KB, clean", "PII (*), 1 KB, with PII", "PII (*), 32 KB, with PII"):
        assert float(figures[case]) > 0, result.stdout
    assert "no rule matches (rules present)" in figures
