"""The skill's shell helpers against a real gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S, GatewayProcess

TFY_API = REPO_ROOT / "scripts" / "tfy-api.sh"
TFY_VERSION = REPO_ROOT / "scripts" / "tfy-version.sh"


def call(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TFY_")}
    return subprocess.run(
        ["bash", str(TFY_API), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        cwd=cwd,
    )


def test_reads_a_config_and_never_prints_the_key(gateway: GatewayProcess) -> None:
    result = call(
        {"TFY_BASE_URL": gateway.base_url, "TFY_API_KEY": gateway.admin_token}, "GET", "/api/svc/v1/workspaces"
    )
    assert result.returncode == 0, result.stderr
    assert "data" in json.loads(result.stdout)
    assert gateway.admin_token not in result.stdout + result.stderr


def test_http_errors_exit_non_zero_with_the_body(gateway: GatewayProcess) -> None:
    result = call({"TFY_BASE_URL": gateway.base_url, "TFY_API_KEY": "tfy_wrong"}, "GET", "/api/svc/v1/workspaces")
    assert result.returncode != 0
    assert json.loads(result.stdout)["status"] == "failure"


def test_credentials_from_dot_env(gateway: GatewayProcess, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f'export TFY_HOST="{gateway.base_url}"\nTFY_API_KEY={gateway.admin_token}\nOTHER=1\n'
    )
    result = call({}, "GET", "/api/svc/v1/session", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_bad_input_is_refused_before_any_request(tmp_path: Path) -> None:
    env = {"TFY_BASE_URL": "http://127.0.0.1:9", "TFY_API_KEY": "tfy_x"}
    assert "TFY_BASE_URL not set" in call({"TFY_API_KEY": "tfy_x"}, "GET", "/x", cwd=tmp_path).stderr
    assert "METHOD must be" in call(env, "FETCH", "/x", cwd=tmp_path).stderr
    assert "must not contain" in call(env, "GET", "/api/../etc", cwd=tmp_path).stderr


def test_version_script_reports_json() -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    report = json.loads(subprocess.run(["bash", str(TFY_VERSION)], env=env, capture_output=True, text=True).stdout)
    assert report["tfy_gateway"]["installed"] is True
    assert report["python"]["compatible"] is True


def test_version_script_reports_json_without_the_sdk_or_the_clis(tmp_path: Path) -> None:
    """A machine whose python3 has neither the SDK nor pip, and no tfy or tfy-gateway, still gets a report."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=SUBPROCESS_TIMEOUT_S)
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    done = subprocess.run(["bash", str(TFY_VERSION)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["sdk"] == {"installed": False}
    assert report["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
