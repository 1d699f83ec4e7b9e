"""`mcp --local`: a persistent data dir, the fake provider and starter catalog at once, and nothing left
behind when the server is terminated, killed, or its client dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp import Client
from tests.helpers import code_under_test_env, wait_for
from tests.mcp.conftest import call, connect
from tests.mcp.test_transports import LIMITS, stdio_server
from tfy_gateway.mcp.local import default_data_dir

STARTER = {
    "anthropic-main/claude-sonnet",
    "azure-backup/gpt-4o",
    "openai-main/gpt-4o",
    "openai-main/gpt-4o-mini",
    "openai-main/text-embedding-3-small",
}


def test_default_data_dir_follows_xdg_and_can_be_overridden(tmp_path: Path):
    assert default_data_dir({"HOME": "/home/u"}) == Path("/home/u/.local/share/tfy-gateway/local")
    assert default_data_dir({"HOME": "/home/u", "XDG_DATA_HOME": "/data"}) == Path("/data/tfy-gateway/local")
    assert default_data_dir({"HOME": "/home/u", "XDG_DATA_HOME": "relative"}).parts[1:3] == ("home", "u")
    chosen = {"HOME": "/home/u", "XDG_DATA_HOME": "/data", "TFY_GATEWAY_LOCAL_DATA_DIR": str(tmp_path)}
    assert default_data_dir(chosen) == tmp_path


async def test_models_work_at_once_and_config_persists_between_sessions(tmp_path: Path):
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    async with connect(env, local=True) as client:
        models = await call(client, "gateway_list_models")
        smoke = await call(client, "gateway_smoke_test", {"model": "anthropic-main/claude-sonnet"})
        plan = await call(client, "gateway_plan", {"yaml_text": LIMITS})
        await call(client, "gateway_apply_plan", {"plan_id": plan["plan_id"]})
    assert {m["id"] for m in models["models"]} == STARTER
    assert smoke["ok"] and smoke["resolved_model"] == "anthropic-main/claude-sonnet"
    data_dir = tmp_path / "xdg" / "tfy-gateway" / "local"
    assert (data_dir / "gateway.sqlite3").exists()
    assert not (data_dir / "secrets.json").exists()  # offline, a secret without a value is a placeholder
    async with connect(env, local=True) as client:  # a new session: same config, models still answer
        config = await call(client, "gateway_get_config", {"config_type": "gateway-rate-limiting-config"})
        again = await call(client, "gateway_smoke_test", {"model": "azure-backup/gpt-4o"})
    assert config["rule_ids"] == ["all"] and again["ok"]


# --- nothing left behind ------------------------------------------------------------------------


def processes_with(marker: str) -> list[int]:
    """Live (not zombie) processes whose environment carries `marker`: the server and anything it started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"TFY_TEST_MARKER={marker}".encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """Environment for a --local server: its own TMPDIR, XDG_DATA_HOME and a marker to find it by."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("needs /proc (Linux) to find the server's processes")
    (tmp_path / "tmp").mkdir()
    env = {
        "TMPDIR": str(tmp_path / "tmp"),
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "HOME": str(tmp_path / "home"),
        "TFY_TEST_MARKER": uuid.uuid4().hex,
    }
    yield env, tmp_path
    for pid in processes_with(env["TFY_TEST_MARKER"]):  # never leave one behind, even when a test failed
        os.kill(pid, signal.SIGKILL)


def describe(pids: list[int]) -> str:
    lines = [(pid, Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")) for pid in pids]
    return "; ".join(f"{pid}: {command!r}" for pid, command in lines)


def assert_nothing_left(env: dict[str, str], tmp_path: Path) -> None:
    try:
        wait_for(lambda: not processes_with(env["TFY_TEST_MARKER"]), "every process of the server exited")
    except AssertionError:
        raise AssertionError(f"still running: {describe(processes_with(env['TFY_TEST_MARKER']))}") from None
    assert list((tmp_path / "tmp").iterdir()) == []  # no temp dir or file
    assert (tmp_path / "xdg" / "tfy-gateway" / "local" / "gateway.sqlite3").exists()  # the data persists


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
async def test_terminating_or_killing_the_server_leaves_nothing_behind(scratch, signum):
    env, tmp_path = scratch
    async with Client(stdio_server(env, "--local")) as client:
        status = await call(client, "gateway_status")
        assert status["local_gateway"] and status["authenticated"]
        [server] = processes_with(env["TFY_TEST_MARKER"])
        os.kill(server, signum)
        assert_nothing_left(env, tmp_path)


CLIENT = """
import os, sys, anyio
from mcp import Client, StdioServerParameters

async def main():
    args = ["-m", "tfy_gateway", "mcp", "--local"]
    params = StdioServerParameters(command=sys.executable, args=args, env=dict(os.environ))
    async with Client(params) as client:
        await client.call_tool("gateway_status", {})
        print("ready", flush=True)
        await anyio.sleep_forever()

anyio.run(main)
"""


def test_a_killed_client_closes_stdin_and_the_server_exits(scratch):
    env, tmp_path = scratch
    full_env = {**os.environ, **code_under_test_env(), **env}
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert client.stdout is not None and client.stdout.readline().strip() == b"ready"
        assert len(processes_with(env["TFY_TEST_MARKER"])) == 2  # the client and its server
        client.kill()
        client.wait()
        assert_nothing_left(env, tmp_path)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        assert client.stdout is not None
        client.stdout.close()
