"""The real `tfy` CLI (PyPI `truefoundry`) against the local gateway, unmodified.

Each `tfy` start costs ~4 s of imports, so independent invocations run concurrently.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.gateway.conftest import Api, load_examples
from tests.helpers import EXAMPLES, GatewayProcess

# A hang guard, not a speed assertion: `tfy` needs ~4 s to start on an idle machine, several times
# that on a loaded one with two invocations side by side.
TFY_TIMEOUT_S = 300
_started: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _reap_tfy_processes() -> Iterator[None]:
    """A failed assertion leaves the other of two side-by-side `tfy` runs unfinished: kill and reap it."""
    yield
    while _started:
        process = _started.pop()
        if process.poll() is None:
            process.kill()
        process.communicate()


def tfy_executable() -> str:
    beside = Path(sys.executable).parent / "tfy"
    found = str(beside) if beside.exists() else shutil.which("tfy")
    if not found:
        pytest.skip("the truefoundry CLI (`tfy`) is not installed; pip install -e '.[dev]'")
    return found


def tfy(home: Path, *args: str, creds: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFY_")}
    env.update(HOME=str(home), COLUMNS="400", NO_COLOR="1", **(creds or {}))
    process = subprocess.Popen(
        [tfy_executable(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    _started.append(process)
    return process


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=TFY_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"`{' '.join(map(str, process.args))}` did not finish within {TFY_TIMEOUT_S} s:\n{output}")
    return process.returncode, output


def diff_lines(output: str) -> list[str]:
    """The +/- lines of the diff panel (the panel's border and 2-space padding removed)."""
    contents = [line.strip()[3:].rstrip(" │") for line in output.splitlines() if line.strip().startswith("│  ")]
    return [line for line in contents if re.match(r"^[-+] ", line)]


def test_tfy_login_apply_dry_run_diff_invalid_and_delete(
    gateway: GatewayProcess, tmp_path: Path, connect: Callable[[str, str | None], Api]
) -> None:
    creds = {"TFY_HOST": gateway.base_url, "TFY_API_KEY": gateway.admin_token}
    login_home, apply_home = tmp_path / "login-home", tmp_path / "apply-home"
    login_home.mkdir()
    apply_home.mkdir()

    # Login (no TFY_* in the env) and the provider accounts apply run side by side.
    login = tfy(login_home, "login", "--host", gateway.base_url, "--api-key", gateway.admin_token)
    providers = tfy(apply_home, "apply", "-f", str(EXAMPLES / "provider-accounts.yaml"), creds=creds)
    code, output = finish(login)
    assert code == 0, output
    assert f"Successfully logged in to '{gateway.base_url}' as 'admin@local'" in output
    stored = json.loads((login_home / ".truefoundry" / "credentials.json").read_text())
    assert stored["host"] == gateway.base_url
    code, output = finish(providers)
    assert code == 0, output
    for name in ("openai-main", "azure-backup", "anthropic-main"):
        assert f"Successfully configured manifest {name} of type" in output

    # A dry run of a new config (creds from the login file) and an invalid manifest, side by side.
    routing = EXAMPLES / "routing-weighted.yaml"
    invalid = yaml.safe_load(routing.read_text())
    invalid["rules"][0]["load_balance_targets"][0]["weight"] = 80
    invalid["rules"][0]["load_balance_targets"][1]["target"] = "nope/gpt-4o"
    invalid_file = tmp_path / "invalid.yaml"
    invalid_file.write_text(yaml.safe_dump(invalid, sort_keys=False))
    dry_run = tfy(login_home, "apply", "-f", str(routing), "--dry-run", "--show-diff")
    rejected = tfy(apply_home, "apply", "-f", str(invalid_file), creds=creds)
    code, output = finish(dry_run)
    assert code == 0, output
    assert (
        "[Dry Run] Successfully configured manifest chat-routing of type gateway-load-balancing-config. "
        "(No changes were applied)" in output
    )
    assert diff_lines(output) == []
    code, output = finish(rejected)
    assert code == 1, output
    assert "Failed to apply manifest chat-routing of type gateway-load-balancing-config" in output
    assert "weights sum to 110" in output
    assert "rules[0].load_balance_targets" in output
    assert "Failed to apply one or more resource manifests." in output

    admin = connect(gateway.base_url, gateway.admin_token)
    assert admin.get("/api/svc/v1/llm-gateway/config/gateway-load-balancing-config").status_code == 404
    assert admin.apply(load_examples("routing-weighted.yaml")[0]).status_code == 200

    changed = yaml.safe_load(routing.read_text())
    changed["rules"][0]["load_balance_targets"][0]["weight"] = 60
    changed["rules"][0]["load_balance_targets"][1]["weight"] = 40
    changed_file = tmp_path / "changed.yaml"
    changed_file.write_text(yaml.safe_dump(changed, sort_keys=False))
    code, output = finish(tfy(apply_home, "apply", "-f", str(changed_file), "--dry-run", "--show-diff", creds=creds))
    assert code == 0, output
    assert "Diff for chat-routing (gateway-load-balancing-config)" in output
    assert sorted(diff_lines(output)) == sorted(
        ["-    weight: 70", "+    weight: 60", "-    weight: 30", "+    weight: 40"]
    )
    stored_config = admin.get("/api/svc/v1/llm-gateway/config/gateway-load-balancing-config").json()
    assert stored_config["manifest"] == load_examples("routing-weighted.yaml")[0]

    code, output = finish(tfy(apply_home, "delete", "-f", str(routing), creds=creds))
    assert code == 0, output
    assert admin.get("/api/svc/v1/llm-gateway/config/gateway-load-balancing-config").status_code == 404


def test_every_example_applies_with_the_tfy_cli_unmodified(tmp_path: Path) -> None:
    """Each file of `examples/`, as it is, through one `tfy apply -f ... -f ...` (the CLI orders them), on
    an offline gateway; then every example model answers."""
    server = GatewayProcess(tmp_path / "data", extra_args=("--offline",))
    server.start()
    try:
        files = sorted(EXAMPLES.glob("*.yaml"))
        creds = {"TFY_HOST": server.base_url, "TFY_API_KEY": server.admin_token}
        args = [arg for path in files for arg in ("-f", str(path))]
        code, output = finish(tfy(tmp_path / "home", "apply", *args, creds=creds))
        assert code == 0, output
        expected = [doc["name"] for path in files for doc in yaml.safe_load_all(path.read_text()) if doc]
        configured = re.findall(r"Successfully configured manifest (\S+) of type", output)
        assert sorted(configured) == sorted(expected), output
        with Api(server.base_url, server.admin_token) as admin:
            for model in ("openai/gpt-4o", "nvidia-external/nemotron-nano", "anthropic-main/claude-sonnet"):
                body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
                response = admin.http.post("/api/llm/chat/completions", json=body)
                assert response.status_code == 200, (model, response.text)
    finally:
        server.stop()
