"""scripts/bench_apply_health.py in a tiny mode (1,000 rules, short runs), so that it cannot rot: a real
offline gateway answers every /health probe and both applies, and every figure is printed. No timing
assertions."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S

SCRIPT = REPO_ROOT / "scripts" / "bench_apply_health.py"
FIGURES = r"\s+(?P<seconds>\d+\.\d\d)\s+(?P<probes>\d+)\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+"


def test_tiny_run_reports_every_figure() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--rules", "1000", "--baseline-seconds", "0.3", "--upload-seconds", "0.3"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    idle = re.search(rf"^idle \(no apply\){FIGURES}$", out, re.MULTILINE)
    fast = re.search(rf"^apply 1,000 rules{FIGURES}   apply 200$", out, re.MULTILINE)
    # The body spans several 64 KiB pieces: the trickle sent them all, then the gateway answered.
    slow = re.search(rf"^slow upload \(0.3 s\){FIGURES}   apply 200, \d+\.\d\d s after the last byte$", out, re.M)
    assert idle and fast and slow, out
    assert int(idle["probes"]) > 0, out
    for label in ("apply 1,000 rules", r"slow upload \(0.3 s\)"):
        assert re.search(rf"^{label}: slowest probes \(ms, began s into the run\): \d+ at \d+\.\d\d", out, re.M), out
    assert re.search(r"^worst /health during an apply: \d+\.\d ms", out, re.MULTILINE), out
