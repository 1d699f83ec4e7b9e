"""scripts/dashboard_screenshots.py runs (so the screenshots in references/dashboard.md can always be made
again) and makes exactly the PNGs the reference embeds, each a real page (not an empty capture)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S

SCRIPT = REPO_ROOT / "scripts" / "dashboard_screenshots.py"
COMMITTED = REPO_ROOT / "references" / "dashboard"

pytest.importorskip("playwright.sync_api")
if not os.path.exists("/usr/bin/chromium"):
    pytest.skip("/usr/bin/chromium is missing: apt-get install chromium (.ci/run does)", allow_module_level=True)


def test_the_script_makes_every_screenshot_the_reference_embeds(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    made = {path.name for path in tmp_path.glob("*.png") if path.stat().st_size > 10_000}
    assert made == {path.name for path in COMMITTED.glob("*.png")}
    embedded = set(
        re.findall(r"\]\(dashboard/([\w-]+\.png)\)", (REPO_ROOT / "references" / "dashboard.md").read_text())
    )
    assert embedded == made
    assert "429" in result.stdout  # the traffic hit the rate limit
