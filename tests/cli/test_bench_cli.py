"""`tfy-gateway bench`: finds scripts/bench.py in a checkout, passes its exit status through, and
explains what to do outside one. Nothing heavy runs: the script run here is a stand-in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S
from tfy_gateway.cli.bench import NOT_A_CHECKOUT, locate_bench_script, run_script
from tfy_gateway.cli.main import main


def test_help_says_what_it_does() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tfy_gateway", "bench", "--help"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert result.returncode == 0 and "scripts/bench.py" in result.stdout and "make bench" in result.stdout


def test_finds_the_checkouts_script() -> None:
    assert locate_bench_script() == REPO_ROOT / "scripts" / "bench.py"


def fake_checkout(root: Path, script: str | None) -> Path:
    package = root / "server" / "tfy_gateway"
    package.mkdir(parents=True)
    if script is not None:
        (root / "scripts").mkdir()
        (root / "scripts" / "bench.py").write_text(script)
    return package


def test_passes_the_scripts_exit_status_through(tmp_path: Path) -> None:
    script = "import os, sys\nprint('benched in', os.getcwd())\nsys.exit(3)\n"
    found = locate_bench_script(fake_checkout(tmp_path, script))
    assert found == tmp_path / "scripts" / "bench.py"
    assert run_script(found) == 3


def test_outside_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert locate_bench_script(fake_checkout(tmp_path / "no-scripts", None)) is None
    installed = tmp_path / "lib" / "python3.11" / "site-packages" / "tfy_gateway"
    installed.mkdir(parents=True)
    (tmp_path / "lib" / "python3.11" / "scripts").mkdir()
    (tmp_path / "lib" / "python3.11" / "scripts" / "bench.py").write_text("raise SystemExit(0)\n")
    assert locate_bench_script(installed) is None, "a scripts/ dir beside site-packages is not ours"

    monkeypatch.setattr("tfy_gateway.cli.bench.locate_bench_script", lambda: None)
    assert main(["bench"]) == 2
    err = capsys.readouterr().err
    assert NOT_A_CHECKOUT in err and "git clone" in err and "make bench" in err
