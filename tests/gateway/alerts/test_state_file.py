"""A damaged `alerts.db` stops `tfy-gateway serve` with one line naming the file, the problem and what to
do, never a traceback (a real server process, as an operator starts it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.gateway.alerts.conftest import OutboxFactory, budget_alert
from tests.helpers import SUBPROCESS_TIMEOUT_S, code_under_test_env, free_port
from tfy_gateway.gateway.alerts import ALERTS_FILE


def truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database\n" * 200)


def directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize("damage", [truncated, garbage, directory], ids=lambda f: f.__name__)
async def test_a_damaged_alerts_db_stops_the_server_with_one_clear_line(
    make_outbox: OutboxFactory, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    outbox = make_outbox()  # a real alerts.db with alerts in it, then damaged
    await outbox.start()
    for threshold in range(1, 100):
        outbox.submit(budget_alert([], threshold=threshold))
    await outbox.settled()
    await outbox.stop()
    path = tmp_path / "data" / ALERTS_FILE
    damage(path)

    env = {**os.environ, **code_under_test_env(), "TFY_GATEWAY_ADMIN_TOKEN": "tfy_state_file_" + "0" * 24}
    command = [sys.executable, "-m", "tfy_gateway", "serve", "--port", str(free_port()), "--data-dir", str(path.parent)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, check=False)

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    [line] = [line for line in output.splitlines() if "the alert outbox" in line]
    assert f"the alert outbox {path} cannot be used: " in line
    assert f"mv {path} {path}.broken" in line and "empty alert history" in line
