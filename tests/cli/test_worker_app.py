"""A `serve --workers N` worker builds the app from the handed-over settings, importing the gateway as
the `serve` command does: its import-time objects frozen, its dataclass code kept beside the bytecode."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SUBPROCESS_TIMEOUT_S, code_under_test_env
from tfy_gateway.cli._dataclass_code import HEADER
from tfy_gateway.cli.servers import APP_FACTORY, hand_over
from tfy_gateway.gateway.app import WORKER_SETTINGS_ENV
from tfy_gateway.gateway.settings import GatewaySettings

PROBE = """
import gc, importlib, json, sys
module, name = sys.argv[1].split(":")
app = getattr(importlib.import_module(module), name)()
from tfy_gateway.cli._dataclass_code import cache_path
kept = str(cache_path("serve-worker"))
print(json.dumps({"app": type(app).__name__, "frozen": gc.get_freeze_count(), "enabled": gc.isenabled(), "kept": kept}))
"""


def test_a_worker_builds_the_app_importing_the_gateway_as_serve_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WORKER_SETTINGS_ENV, "")  # restored after the test
    hand_over(GatewaySettings(data_dir=tmp_path / "data"), "warning")
    prefix = tmp_path / "pycache"
    env = {
        "PATH": os.environ["PATH"],
        WORKER_SETTINGS_ENV: os.environ[WORKER_SETTINGS_ENV],
        "PYTHONPYCACHEPREFIX": str(prefix),
        **code_under_test_env(),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, APP_FACTORY],
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["app"] == "GatewayApp" and result["enabled"] is True
    assert result["frozen"] > 10_000  # the gateway's modules, classes and functions
    kept = Path(result["kept"])
    assert kept.is_relative_to(prefix)
    header, code = marshal.loads(kept.read_bytes())
    assert header == HEADER and len(code) > 500  # the gateway's dataclasses' methods
