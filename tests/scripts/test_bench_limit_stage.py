"""scripts/bench_limit_stage.py in a tiny mode, so that it cannot rot: the limits stage of a captured
gateway-all request is replayed and reported per phase. No timing assertions."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S

SCRIPT = REPO_ROOT / "scripts" / "bench_limit_stage.py"


def test_tiny_run_replays_gateway_all_seven_counters() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--rounds", "1", "--batches", "3", "--batch", "20"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert re.search(r"^round 1 .*: 7 counters, reserve \d+\.\d \+ settle \d+\.\d µs", out, re.MULTILINE), out
    assert re.search(r"reserve \d+\.\d \[.*\], settle \d+\.\d \[.*\], both \d+\.\d \[.*\] µs$", out, re.MULTILINE), out
