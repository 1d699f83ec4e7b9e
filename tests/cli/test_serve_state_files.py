"""`tfy-gateway serve` on a damaged `limits.sqlite3`: one line and exit status 2, never a traceback;
`--reset-state limits` moves it aside and starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.helpers import SUBPROCESS_TIMEOUT_S, GatewayProcess, code_under_test_env, free_port


def serve(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tfy_gateway", "serve", "--port", str(free_port()), "--data-dir", str(data_dir)]
    env = {**os.environ, **code_under_test_env(), "TFY_GATEWAY_ADMIN_TOKEN": "tfy_test_admin_state_files"}
    return subprocess.run(
        [*command, *extra], capture_output=True, text=True, env=env, timeout=SUBPROCESS_TIMEOUT_S, check=False
    )


def test_a_damaged_counters_file_stops_serve_with_one_line_and_reset_state_starts_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    counters = data / "limits.sqlite3"
    counters.write_text("this was the counters file\n" * 40)

    refused = serve(data)
    assert refused.returncode == 2, refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert str(counters) in lines[0] and "is not a readable SQLite database" in lines[0]
    assert "mv " in lines[0] and "tfy-gateway serve --reset-state limits" in lines[0]

    gateway = GatewayProcess(data, extra_args=("--reset-state", "limits"))
    gateway.start()
    try:
        moved = [path for path in data.iterdir() if path.name.startswith("limits.sqlite3.reset-")]
        assert len(moved) == 1 and moved[0].read_text().startswith("this was the counters file")
        assert f"moved the rate-limit and budget counters file aside to {moved[0]}" in gateway.server_log()
        answer = httpx.get(gateway.base_url + "/metrics", headers={"Authorization": f"Bearer {gateway.admin_token}"})
        assert "tfy_gateway_limit_counters_unreadable 0.0" in answer.text
    finally:
        gateway.stop()
