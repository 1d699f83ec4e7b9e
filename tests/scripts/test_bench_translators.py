"""scripts/bench_translators.py in a tiny mode, so that it cannot rot: every wire format's row is
printed with its two figures. No timing assertions."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S

SCRIPT = REPO_ROOT / "scripts" / "bench_translators.py"


def test_tiny_run_reports_every_wire_format() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--iterations", "20"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for row in (
        r"openai \(pass-through\)",
        "anthropic",
        r"bedrock, api-key \(bearer\)",
        r"bedrock, access-key \(SigV4\)",
        "gemini",
    ):
        assert re.search(rf"^{row}\s+\d+\.\d\s+\d+\.\d$", result.stdout, re.MULTILINE), result.stdout
