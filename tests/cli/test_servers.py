"""`serve --server NAME`: the other HTTP servers are opt-in, and say what is missing or refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SUBPROCESS_TIMEOUT_S
from tfy_gateway.cli import servers
from tfy_gateway.gateway.settings import GatewaySettings


def test_offline_is_refused_with_another_server_before_anything_is_created(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFY_GATEWAY_")}
    command = [sys.executable, "-m", "tfy_gateway", "serve", "--server", "granian", "--offline"]
    result = subprocess.run(
        [*command, "--data-dir", str(tmp_path / "d")],
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
    )
    assert result.returncode == 2
    assert "--offline runs with the default server, not --server granian" in result.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("name", "module", "package"), [("granian", "granian", "granian"), ("aiohttp", "aiohttp_asgi", "aiohttp-asgi")]
)
def test_a_server_whose_package_is_missing_names_the_package(
    name: str, module: str, package: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    settings = GatewaySettings(data_dir=tmp_path)
    with pytest.raises(servers.ServerUnavailable, match=f"needs the {package} package"):
        servers.runner(name)(settings, 1, {"log_level": "warning", "access_log": False})


def test_aiohttp_serves_one_process_only(tmp_path: Path) -> None:
    with pytest.raises(servers.ServerUnavailable, match="--workers 1"):
        servers.runner("aiohttp")(GatewaySettings(data_dir=tmp_path), 2, {"log_level": "warning", "access_log": False})


def test_uvicorn_is_served_by_serve_itself_not_a_runner() -> None:
    assert servers.DEFAULT == "uvicorn"
    with pytest.raises(ValueError, match="unknown server"):
        servers.runner("uvicorn")
