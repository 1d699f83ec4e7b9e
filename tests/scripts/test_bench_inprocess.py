"""scripts/bench_inprocess.py in a tiny mode, so that it cannot rot: it runs every system and reports
their figures and the request-log writer's counts. No timing assertions."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S

SCRIPT = REPO_ROOT / "scripts" / "bench_inprocess.py"


def run(*args: str) -> str:
    """The script's output with `args`, once it exited cleanly."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_tiny_run_reports_every_system() -> None:
    out = run("--requests", "300", "--concurrency", "4", "--rounds", "1")
    for system in ("floor", "gateway-bare", "gateway-all", "gateway-nomatch"):
        assert re.search(rf"^{system}\s+\d+\.\d \[", out, re.MULTILINE), out
    written = [int(n) for n in re.findall(r"logs queued at the end \d+, written (\d+)", out)]
    assert written == [600, 600, 600], out  # 300 warm-up requests and 300 measured, each logged once
    assert re.search(r"gateway-all .* \d+\.\d\dx the floor", out), out
    # gateway-nomatch stops with an error when any configuration applied to its requests: it ran to the end.
    assert re.search(r"gateway-nomatch .* \d+\.\d\dx the floor", out), out


def test_own_work_reports_each_gateway_and_no_floor() -> None:
    out = run("--own", "--requests", "120", "--batches", "40", "--rounds", "1")
    for system in ("gateway-bare", "gateway-all", "gateway-nomatch"):
        assert re.search(rf"^{system}\s+\d+\.\d \[.*µs own CPU/req$", out, re.MULTILINE), out
    assert not re.search(r"^floor", out, re.MULTILINE), out


def test_transport_reports_one_call_of_the_floor_and_the_gateway() -> None:
    out = run("--transport", "--requests", "120", "--batches", "40", "--rounds", "1")
    for system in ("floor", "gateway-bare"):
        assert re.search(rf"^{system}\s+\d+\.\d \[.*µs CPU/call$", out, re.MULTILINE), out
    assert not re.search(r"^gateway-(all|nomatch)", out, re.MULTILINE), out  # one transport for every gateway
