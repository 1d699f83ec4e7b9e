"""Files the gateway cannot use safely: a read-only `gateway.sqlite3` stops `serve` with one named line
(not a PermissionError traceback), and a secrets file others may read is used with a warning at start."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gateway.inprocess import running_gateway
from tests.helpers import SUBPROCESS_TIMEOUT_S, code_under_test_env, free_port
from tfy_gateway.gateway.store import SqliteStore


def without_override() -> list[str]:
    """A command prefix under which file modes bind this user: root keeps them only without
    CAP_DAC_OVERRIDE (setpriv drops it from the bounding set); any other user needs nothing."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): a read-only file cannot be made to bind")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_a_read_only_gateway_database_stops_serve_with_one_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    SqliteStore(data_dir / "gateway.sqlite3").close()  # a real database, then made read-only
    database = data_dir / "gateway.sqlite3"
    database.chmod(0o400)
    env = {**os.environ, **code_under_test_env(), "TFY_GATEWAY_ADMIN_TOKEN": "tfy_read_only_" + "0" * 24}
    command = [*without_override(), sys.executable, "-m", "tfy_gateway", "serve", "--port", str(free_port())]
    command += ["--data-dir", str(data_dir)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, check=False)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output and "PermissionError" not in output, output
    [line] = [line for line in output.splitlines() if "cannot open the gateway database" in line]
    assert f"cannot open the gateway database {database}: permission denied" in line
    assert f"chmod u+rw {database}" in line


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
async def test_a_secrets_file_others_may_read_is_used_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    secrets = data_dir / "secrets.json"
    secrets.write_text(json.dumps({"openai": {"API_KEY": "sk-test-0000"}}))
    secrets.chmod(mode)
    caplog.set_level(logging.WARNING)
    async with running_gateway(data_dir, offline=False):
        pass
    warnings = [r.getMessage() for r in caplog.records if "secrets file" in r.getMessage()]
    if mode == 0o600:
        assert warnings == []
    else:
        [warning] = warnings
        assert f"secrets file {secrets} is readable or writable by its group or others (mode {mode:04o})" in warning
        assert f"chmod 600 {secrets}" in warning and "sk-test" not in warning
