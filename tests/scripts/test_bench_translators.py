"""scripts/bench_translators.py in a tiny mode, so that it cannot rot: every wire prints its figures.
No timing assertions."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S

SCRIPT = REPO_ROOT / "scripts" / "bench_translators.py"


def test_tiny_run_reports_every_wire() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--iterations", "20"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {
        name: figures for name, *figures in re.findall(r"^(\w+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", result.stdout, re.M)
    }
    assert set(rows) == {"openai", "anthropic", "gemini"}, result.stdout
    assert all(float(figure) > 0 for figures in rows.values() for figure in figures)
