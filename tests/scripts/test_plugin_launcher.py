"""scripts/tfy-gateway-mcp, the plugin's MCP launcher, in a scratch plugin directory (no network).

The real first-start install (venv + pip) runs in tests/test_plugin.py through Claude Code itself.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S

LAUNCHER = REPO_ROOT / "scripts" / "tfy-gateway-mcp"
# Prints what it was started with, in place of the installed `tfy-gateway`.
FAKE_SERVER = """#!{python}
import json, os, sys
print(json.dumps({{"argv": sys.argv[1:], "env": {{k: v for k, v in os.environ.items() if "TFY" in k}}}}))
"""


def load(path: Path) -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("tfy_gateway_mcp", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """A plugin directory with the launcher and a tiny stand-in for the project's source."""
    root = tmp_path / "plugin"
    (root / "scripts").mkdir(parents=True)
    shutil.copy2(LAUNCHER, root / "scripts" / "tfy-gateway-mcp")
    (root / "server" / "pkg").mkdir(parents=True)
    (root / "server" / "pkg" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    return root


def run(plugin: Path, data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if "TFY" not in k and not k.startswith("CLAUDE")}
    return subprocess.run(
        [sys.executable, str(plugin / "scripts" / "tfy-gateway-mcp"), *args],
        env={**clean, "CLAUDE_PLUGIN_DATA": str(data), **env},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )


def fake_ready_venv(plugin: Path, data: Path) -> Path:
    launcher = load(plugin / "scripts" / "tfy-gateway-mcp")
    venv = data / f"venv-{launcher.fingerprint(*launcher.interpreter())}"
    (venv / "bin").mkdir(parents=True)
    server = venv / "bin" / "tfy-gateway"
    server.write_text(FAKE_SERVER.format(python=sys.executable))
    server.chmod(0o755)
    (venv / ".tfy-gateway-ready").write_text("")
    return venv


def test_execs_the_server_with_the_plugin_settings_and_a_clean_stdout(plugin: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    fake_ready_venv(plugin, data)
    shell = {"TFY_BASE_URL": "https://shell.example", "TFY_API_KEY": "tfy_shell_key_000000"}

    configured = run(
        plugin,
        data,
        "--transport",
        "stdio",
        TFY_GATEWAY_PLUGIN_BASE_URL="https://plugin.example",
        TFY_GATEWAY_PLUGIN_API_KEY="tfy_plugin_key_00000",
        **shell,
    )
    assert configured.returncode == 0, configured.stderr
    started = json.loads(configured.stdout)  # stdout carries the server's output only (the MCP channel)
    assert started["argv"] == ["mcp", "--local", "--transport", "stdio"]
    assert started["env"] == {"TFY_BASE_URL": "https://plugin.example", "TFY_API_KEY": "tfy_plugin_key_00000"}

    # settings left empty (Claude Code substitutes "" for an unset option): the environment's values stay
    unset = run(plugin, data, TFY_GATEWAY_PLUGIN_BASE_URL="", TFY_GATEWAY_PLUGIN_API_KEY=" ", **shell)
    assert json.loads(unset.stdout)["env"] == shell


def test_fingerprint_follows_the_source_and_ignores_caches(plugin: Path) -> None:
    launcher = load(plugin / "scripts" / "tfy-gateway-mcp")
    python = launcher.interpreter()
    before = launcher.fingerprint(*python)
    (plugin / "server" / "pkg" / "__pycache__").mkdir()
    (plugin / "server" / "pkg" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (plugin / "server" / "pkg.egg-info").mkdir()
    assert launcher.fingerprint(*python) == before
    (plugin / "server" / "pkg" / "__init__.py").write_text("VERSION = 2\n")
    assert launcher.fingerprint(*python) != before
    assert launcher.fingerprint(python[0], "0.0.0") != launcher.fingerprint(*python)


def test_a_failed_install_says_why_and_leaves_nothing_half_ready(plugin: Path, tmp_path: Path) -> None:
    (plugin / "pyproject.toml").write_text("[project\n")  # pip cannot build this
    data = tmp_path / "data"
    failed = run(plugin, data, PIP_NO_INDEX="1")
    assert failed.returncode != 0
    assert failed.stdout == ""
    assert "installing tfy-gateway" in failed.stderr and "install failed" in failed.stderr
    assert "pip could not install" in failed.stderr  # the end of install.log
    assert (data / "install.log").is_file()
    assert not list(data.glob("venv-*/.tfy-gateway-ready"))
    assert not list(data.glob("build-*")), "the build copy is removed"
