"""The repository as a Claude Code plugin, checked with the real Claude Code CLI.

Claude Code (npm `@anthropic-ai/claude-code`, pinned) is installed with npm into a temporary directory
(npm's own cache makes that a few seconds after the first time); the tests are skipped only when npm is
missing or cannot install it. Everything runs offline from Claude's side (no API calls), in a
scratch HOME: validate the manifests, add the repository as a local marketplace, install the plugin with
its settings, and let `claude mcp list` start the MCP server. That first start is the one a new user
gets: the plugin's launcher creates its virtual environment and pip-installs the plugin (pip needs its
package index; the real pip cache is reused).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcp import Client, StdioServerParameters
from tests.helpers import REPO_ROOT, GatewayProcess, wait_for
from tests.mcp.test_surface import EXPECTED_TOOLS
from tfy_gateway.platform import mask_secret

CLAUDE_CODE = "@anthropic-ai/claude-code@2.1.197"
PLUGIN = "tfy-gateway@tfy-gateway"  # <plugin>@<marketplace>
SERVER = "plugin:tfy-gateway:tfy-gateway"
# A fresh machine's first start installs the server; these are hang guards, not speed limits.
INSTALL_TIMEOUT_S = 600
CLAUDE_TIMEOUT_S = 120
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".*_cache", ".tfy-gateway"
)


@pytest.fixture(scope="session")
def claude_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: this test installs Claude Code (@anthropic-ai/claude-code) with it")
    # A temporary prefix, not the repository's .venv: a local marketplace copies the whole checkout.
    prefix = tmp_path_factory.mktemp("claude-code")
    done = subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-save", "--no-audit", "--no-fund", CLAUDE_CODE],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"npm could not install {CLAUDE_CODE}: {done.stderr.strip()[-800:]}")
    binary = prefix / "node_modules" / ".bin" / "claude"
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False)
    if version.returncode != 0:
        pytest.skip(f"{binary} does not run after npm installed {CLAUDE_CODE}: {version.stderr[-800:]}")
    assert CLAUDE_CODE.rsplit("@", 1)[-1] in version.stdout
    return binary


@pytest.fixture
def plugin_source(tmp_path: Path) -> Path:
    """The plugin as a clean checkout would have it (a local marketplace copies the directory as it is)."""
    source = tmp_path / "tfy-gateway"
    shutil.copytree(REPO_ROOT, source, ignore=IGNORED)
    return source


@pytest.fixture
def claude(claude_bin: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `claude` with a scratch HOME (nothing of the user's Claude setup), no telemetry, no TFY_* vars."""
    home = tmp_path / "home"
    project = tmp_path / "project"
    home.mkdir()
    project.mkdir()
    real_home = Path.home()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TFY_", "CLAUDE", "ANTHROPIC_", "XDG_"))}
    env.update(
        HOME=str(home),
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        # the server's first start installs it: let Claude Code wait for that (default 30 s)
        MCP_TIMEOUT=str(INSTALL_TIMEOUT_S * 1000),
        PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR") or str(real_home / ".cache" / "pip"),
    )

    def run(*args: str, timeout: float = CLAUDE_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(claude_bin), *args], cwd=project, env=env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"claude {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done

    run.home = home  # type: ignore[attr-defined]
    run.env = env  # type: ignore[attr-defined]
    return run


def _server_logs(home: Path) -> str:
    logs = sorted(home.glob(".cache/claude-cli-nodejs/*/mcp-logs-plugin-tfy-gateway-tfy-gateway/*.jsonl"))
    messages = []
    for log in logs:
        for line in log.read_text(encoding="utf-8").splitlines():
            entry: dict[str, Any] = json.loads(line)
            messages.append(str(entry.get("error") or entry.get("debug") or ""))
    return "\n".join(messages)


def test_manifests_are_valid(claude: Callable[..., subprocess.CompletedProcess[str]], plugin_source: Path) -> None:
    marketplace = claude("plugin", "validate", str(plugin_source))
    assert "Validation passed" in marketplace.stdout and "warning" not in marketplace.stdout.lower()
    plugin = claude("plugin", "validate", str(plugin_source / ".claude-plugin" / "plugin.json"))
    assert "Validation passed" in plugin.stdout and "warning" not in plugin.stdout.lower()


async def test_install_from_the_local_marketplace_then_the_server_starts_with_the_settings(
    claude: Callable[..., subprocess.CompletedProcess[str]], plugin_source: Path, gateway: GatewayProcess
) -> None:
    home: Path = claude.home  # type: ignore[attr-defined]
    claude("plugin", "marketplace", "add", str(plugin_source))
    installed = claude(
        "plugin",
        "install",
        PLUGIN,
        "--config",
        f"TFY_BASE_URL={gateway.base_url}",
        "--config",
        f"TFY_API_KEY={gateway.admin_token}",
    )
    assert "Successfully installed" in installed.stdout
    assert gateway.admin_token not in installed.stdout + installed.stderr

    details = claude("plugin", "details", PLUGIN).stdout
    assert re.search(r"Skills \(1\)\s+tfy-gateway\n", details), details
    (entry,) = json.loads(claude("plugin", "list", "--json").stdout)
    assert entry["id"] == PLUGIN and entry["enabled"] is True
    install_path = Path(entry["installPath"])
    assert (install_path / "skill" / "tfy-gateway" / "SKILL.md").is_file()

    # Claude Code starts the server the way a session does; on this first start the launcher installs it.
    data = home / ".claude" / "plugins" / "data" / "tfy-gateway-tfy-gateway"
    listed = claude("mcp", "list", timeout=INSTALL_TIMEOUT_S)
    line = next((ln for ln in listed.stdout.splitlines() if ln.startswith(SERVER)), "")
    if "Connected" not in line:
        # Claude Code's first request gives up after 60 s; on a loaded machine the install takes longer.
        # The launcher's promise then: the install still finishes, and the next start connects at once.
        wait_for(
            lambda: list(data.glob("venv-*/.tfy-gateway-ready")),
            "the launcher's install finished (its ready marker)",
            timeout=INSTALL_TIMEOUT_S,
            interval=0.5,
        )
        listed = claude("mcp", "list", timeout=CLAUDE_TIMEOUT_S)
        line = next((ln for ln in listed.stdout.splitlines() if ln.startswith(SERVER)), "")
    assert "Connected" in line, listed.stdout + _server_logs(home)
    # The settings reached the server through ${user_config.*}: its startup log names URL and masked key.
    logs = _server_logs(home)
    assert f"control plane: {gateway.base_url} (key {mask_secret(gateway.admin_token)})" in logs, logs
    assert gateway.admin_token not in logs
    assert len(list(data.glob("venv-*/.tfy-gateway-ready"))) == 1, "the launcher keeps its venv in CLAUDE_PLUGIN_DATA"

    # The declared command, run as Claude Code runs it (settings left empty this time: the environment's
    # TFY_* apply), answers an MCP client with every tool; this start reuses the environment.
    config = entry["mcpServers"]["tfy-gateway"]
    root = str(install_path)
    env = {
        **claude.env,  # type: ignore[attr-defined]
        "CLAUDE_PLUGIN_ROOT": root,
        "CLAUDE_PLUGIN_DATA": str(data),
        "TFY_GATEWAY_PLUGIN_BASE_URL": "",  # what ${user_config.*} becomes for a setting not set
        "TFY_GATEWAY_PLUGIN_API_KEY": "",
        **gateway.env,
    }
    args = [arg.replace("${CLAUDE_PLUGIN_ROOT}", root) for arg in config["args"]]
    async with Client(StdioServerParameters(command=config["command"], args=args, env=env)) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        status = (await client.call_tool("gateway_status", {})).structured_content
    assert tools == EXPECTED_TOOLS
    assert status is not None and status["base_url"] == gateway.base_url and status["authenticated"], status
    assert len(list(data.glob("venv-*"))) == 1
