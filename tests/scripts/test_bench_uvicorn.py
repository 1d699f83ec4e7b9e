"""scripts/bench_uvicorn.py in tiny modes, so that it cannot rot: the protocols fed in process (the
trivial app and a gateway) and served for real under wrk. No timing assertions."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S

SCRIPT = REPO_ROOT / "scripts" / "bench_uvicorn.py"
FIGURE = r"\d+\.\d\d"


def run(*args: str) -> str:
    """The script's output with `args`, once it exited cleanly."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_own_work_reports_each_protocol_per_round() -> None:
    out = run("--own", "--rounds", "2", "--batches", "3", "--batch-size", "5")
    for name in ("uvicorn", "serve"):
        assert re.search(rf"^own {name}\s+µs/req least of batches, per round: {FIGURE} {FIGURE}$", out, re.M), out


def test_a_gateway_fed_through_the_protocols() -> None:
    out = run("--gateway-own", "gateway-bare", "--rounds", "1", "--batches", "2", "--batch-size", "5")
    for name in ("uvicorn", "serve"):
        assert re.search(rf"^gateway-bare own {name}\s+µs/req least of batches, per round: {FIGURE}$", out, re.M)


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_real_servers_under_wrk() -> None:
    out = run("--levels", "1", "--rounds", "1", "--seconds", "1")
    for name in ("uvicorn", "serve"):
        assert re.search(rf"^c=1\s+{name}\s+CPU µs/req median\s+\d+\.\d", out, re.M), out
