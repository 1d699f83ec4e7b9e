"""The README's everyday commands run as written.

The shell blocks marked `<!-- readme-test: NAME -->` are extracted and run with bash in a scratch
directory holding a copy of `examples/` and a `.venv/bin/` whose `tfy-gateway` runs the code under
test (and `tfy`, the platform's CLI, when installed). Only the port changes (8787 -> a free one, so
tests can run side by side). terminal-1 runs in the background, as in its own terminal, until the
gateway says the offline catalog is in place; terminal-2, tfy and examples then run as written under `set -e`, and one request per example model,
as the admin and as the user the README adds, must answer 200.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S, code_under_test_env, free_port, wait_for

README = REPO_ROOT / "README.md"
MARKED_BLOCK = re.compile(r"<!-- readme-test: (?P<name>[\w-]+) -->\s*```bash\n(?P<body>.*?)```", re.S)
TFY = Path(sys.executable).parent / "tfy"


# Every model the examples define or route, and what a request for it is (after `apply -f examples/*.yaml`).
EXAMPLE_MODELS = {
    "openai/gpt-4o": "chat",  # the routing examples' alias
    "openai-main/gpt-4o": "chat",
    "openai-main/gpt-4o-mini": "chat",
    "openai-main/text-embedding-3-small": "embeddings",
    "azure-backup/gpt-4o": "chat",
    "anthropic-main/claude-sonnet": "chat",
    "nvidia-external/nemotron-nano": "chat",
}


def every_example_model(base_url: str, token: str) -> dict[str, int]:
    """The status of one request per example model with `token`."""
    statuses = {}
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        for model, kind in EXAMPLE_MODELS.items():
            if kind == "embeddings":
                response = http.post("/api/llm/embeddings", json={"model": model, "input": "hi"})
            else:
                body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
                response = http.post("/api/llm/chat/completions", json=body)
            statuses[model] = response.status_code
    return statuses


def blocks() -> dict[str, str]:
    return {m["name"]: m["body"] for m in MARKED_BLOCK.finditer(README.read_text(encoding="utf-8"))}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "examples", tmp_path / "examples")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    launcher = bin_dir / "tfy-gateway"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tfy_gateway "$@"\n')
    launcher.chmod(0o755)
    if TFY.exists():
        (bin_dir / "tfy").symlink_to(TFY)
    return tmp_path


def environment(home: Path) -> dict[str, str]:
    """No TFY_* from the caller; a scratch HOME (the tfy CLI keeps state there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFY_")}
    home.mkdir(exist_ok=True)
    return {**env, **code_under_test_env(), "HOME": str(home)}


def test_the_readme_marks_its_everyday_blocks():
    assert {"terminal-1", "terminal-2", "tfy", "examples"} <= set(blocks())
    assert "apply -f examples/*.yaml" in blocks()["examples"]
    assert "--offline" in blocks()["terminal-1"] and "TFY_HOST=" in blocks()["terminal-2"]


def test_the_everyday_commands_run_as_written(workdir: Path):
    port = str(free_port())
    found = {name: body.replace("8787", port) for name, body in blocks().items()}
    log = workdir / "terminal-1.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            ["bash", "-c", found["terminal-1"]],
            cwd=workdir,
            env=environment(workdir / "home"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: "provider accounts" in log.read_text() or server.poll() is not None,
            "the offline gateway came up",
            timeout=SUBPROCESS_TIMEOUT_S,
        )
        assert server.poll() is None, log.read_text()
        assert "example provider accounts applied: openai-main, azure-backup, anthropic-main" in log.read_text()
        scripts = ["terminal-2", *(["tfy"] if TFY.exists() else []), "examples"]
        script = "set -euo pipefail\n" + "\n".join(found[name] for name in scripts)
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=workdir,
            env=environment(workdir / "home"),
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
        )
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n--- gateway:\n{log.read_text()}"
        bob = re.findall(r"^tfy_\S+$", done.stdout, re.M)[0]
        base_url = f"http://127.0.0.1:{port}"
        admin = (workdir / ".tfy-gateway" / "admin-token").read_text().strip()
        answered = {who: every_example_model(base_url, token) for who, token in (("admin", admin), ("bob", bob))}
        assert answered == {who: dict.fromkeys(EXAMPLE_MODELS, 200) for who in answered}, log.read_text()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    output = done.stdout + done.stderr
    assert "--- /dev/null" in output and "+name: chat-routing" in output  # the dry run shows the new config
    assert "weighted-chat" in output  # `get` shows the rule just applied
    assert "status:     200 ok" in output and "openai/gpt-4o -> " in output
    assert "Model access:" in output and "collaborators" in output
    assert re.search(r"^tfy_\S+$", done.stdout, re.M)  # bob's token, on stdout
    if TFY.exists():
        assert "[Dry Run] Successfully configured manifest rate-limits" in output  # the tfy CLI's dry run
