"""`tfy-gateway demo` as users run it: a subprocess that starts, drives and stops real processes."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from tests.helpers import REPO_ROOT

HEADINGS = [
    "[1/11] Check the connection",
    "[2/11] Onboard two provider accounts",
    "[3/11] List the models",
    "[4/11] Clarify the intent",
    "[5/11] Render the manifest",
    "[6/11] Validate the manifest",
    "[7/11] Plan the change (dry run)",
    "[8/11] Apply the reviewed plan",
    "[9/11] Smoke-test through the new route",
    "[10/11] Explain the routing",
    "[11/11] Usage and cost",
]
URL = re.compile(r"^\s+(fake provider|gateway)\s+http://127\.0\.0\.1:(\d+)\s+\(pid (\d+)", re.MULTILINE)


def demo_env() -> dict[str, str]:
    # A caller's control-plane settings must not matter: the demo brings its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFY_")}
    return {**env, "NO_COLOR": "1", "TFY_API_KEY": "tfy_callers_own_key_must_not_leak"}


# Hang guards, not speed assertions: the demo takes a few seconds on an idle machine.
DEMO_TIMEOUT_S = 300
STOP_TIMEOUT_S = 60


def run_demo(*args: str, timeout: float = DEMO_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tfy_gateway", "demo", *args]
    return subprocess.run(command, env=demo_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def services(output: str) -> dict[str, tuple[int, int]]:
    """name -> (port, pid) as the demo printed them (first mention of each)."""
    found: dict[str, tuple[int, int]] = {}
    for name, port, pid in URL.findall(output):
        found.setdefault(name, (int(port), int(pid)))
    assert set(found) == {"fake provider", "gateway"}, output[:2000]
    return found


def answers(port: int) -> bool:
    try:  # a stopped server refuses at once; a live one on a loaded machine may take a while to answer
        httpx.get(f"http://127.0.0.1:{port}/", timeout=10.0)
    except httpx.HTTPError:
        return False
    return True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    # A zombie (exited, not yet reaped by whoever adopted it) is not running.
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def mcp_servers_for(gateway_url: str) -> list[int]:
    """PIDs of live processes whose environment names this gateway (the demo's MCP server)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"TFY_BASE_URL={gateway_url}".encode() in environ.split(b"\0") and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def assert_all_stopped(found: dict[str, tuple[int, int]]) -> None:
    for name, (port, pid) in found.items():
        assert not answers(port), f"the {name} still answers on port {port}"
        assert not alive(pid), f"the {name} (pid {pid}) is still running"
    if Path("/proc").is_dir():
        assert mcp_servers_for(f"http://127.0.0.1:{found['gateway'][0]}") == [], "the MCP server is still running"


def test_demo_runs_every_step_prints_it_readably_and_cleans_up(tmp_path: Path):
    data_dir = tmp_path / "demo-data"
    result = run_demo("--data-dir", str(data_dir))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    for heading in HEADINGS:
        assert heading in result.stdout
    # The clarifying question, then the user's answer completes the intent.
    assert "What traffic split should the targets get: 70/30 (recommended)" in result.stdout
    # The plan shows the new rule as added lines of a real diff, the old rule as context.
    assert "UPDATE          gateway-load-balancing-config routing" in result.stdout
    assert "+- id: route-openai-gpt-4o" in result.stdout and "@@ " in result.stdout
    # The validator's finding for the typo: line, column, did-you-mean.
    assert re.search(r"line \d+, column \d+: target 'azure-backup/gpt4o' .* did you mean 'azure-backup/gpt-4o'", output)
    # Requests for the alias resolve to one of the rule's real targets; streaming measures TTFT.
    assert re.search(r"^\s+1\s+(openai-main|azure-backup)/gpt-4o\s+200\s", result.stdout, re.MULTILINE)
    assert "applied config  rule route-openai-gpt-4o (weight-based-routing)" in result.stdout
    assert re.search(r"stream\s+(openai-main|azure-backup)/gpt-4o: TTFT [\d.]+ ms", result.stdout)
    assert "1 embedding(s) of" in result.stdout
    summary = re.search(r"last 24 h\s+(\d+) requests, (\d+) errors", result.stdout)
    assert summary is not None, result.stdout[-4000:]
    assert summary.groups() == ("8", "0"), result.stdout[-4000:]  # the whole usage step, if it ever differs
    assert "Summary" in result.stdout and "all 11 steps passed" in result.stdout
    assert len(re.findall(r"^  \d+\. .+ ok\s+[\d.]+ s$", result.stdout, re.MULTILINE)) == 11
    assert "FAILED" not in output

    token = (data_dir / "admin-token").read_text().strip()
    assert token.startswith("tfy_") and token not in output
    assert "tfy_callers_own_key_must_not_leak" not in output
    assert_all_stopped(services(result.stdout))


@pytest.fixture
def kept(tmp_path: Path) -> Iterator[tuple[subprocess.CompletedProcess[str], Path]]:
    data_dir = tmp_path / "kept"
    result = run_demo("--keep", "--data-dir", str(data_dir))
    try:
        yield result, data_dir
    finally:  # never leave the kept processes behind, whatever the test found
        for _, port, pid in URL.findall(result.stdout):
            if answers(int(port)):  # still ours: a stopped process's pid may have been reused
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGTERM)


def test_keep_leaves_a_usable_gateway_and_says_how_to_stop_it(kept):
    result, data_dir = kept
    assert result.returncode == 0, result.stdout + result.stderr
    found = services(result.stdout)
    gateway_port, fake_port = found["gateway"][0], found["fake provider"][0]
    base_url = f"http://127.0.0.1:{gateway_port}"
    assert httpx.get(f"{base_url}/api/svc/v1/min-cli-version").status_code == 200
    assert httpx.get(f"http://127.0.0.1:{fake_port}/health").status_code == 200

    # The printed instructions work as printed: token file, openai SDK base URL, MCP command.
    token_path = data_dir / "admin-token"
    assert f"in {token_path} (mode 0600; not printed)" in result.stdout
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    token = token_path.read_text().strip()
    assert token not in result.stdout + result.stderr
    assert f'OpenAI(base_url="{base_url}/api/llm"' in result.stdout
    assert f"TFY_BASE_URL={base_url} TFY_API_KEY=$(cat {token_path}) tfy-gateway mcp" in result.stdout
    client = OpenAI(base_url=f"{base_url}/api/llm", api_key=token_path.read_text().strip())
    reply = client.chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": "Hello"}], max_tokens=4
    )
    assert reply.choices[0].message.content

    match = re.search(r"^\s+kill (\d+) (\d+)$", result.stdout, re.MULTILINE)
    assert match, result.stdout[-1500:]
    pids = {int(match.group(1)), int(match.group(2))}
    assert pids == {pid for _, pid in found.values()}
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and (answers(gateway_port) or answers(fake_port)):
        time.sleep(0.05)
    assert not answers(gateway_port) and not answers(fake_port)


def read_line(fd: int) -> bytes:
    """One line from a pipe, read a byte at a time so that nothing beyond it leaves the pipe."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            break
        line += byte
    return line


def test_ctrl_c_stops_everything_it_started(tmp_path: Path):
    command = [sys.executable, "-m", "tfy_gateway", "demo", "--data-dir", str(tmp_path / "interrupted")]
    process = subprocess.Popen(
        command,
        env=demo_env(),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # As from an interactive terminal: a test run started in the background (`pytest &` from a
        # script) has SIGINT ignored, and the demo would inherit that and never see the Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None
    fd = process.stdout.fileno()
    # The interrupt must land while the session runs, however late this process gets to send it: with
    # a one-page pipe that is read no further than the [3/11] heading, the demo blocks writing its
    # transcript (about 12 KB follows) long before it could finish. (Linux only; elsewhere the pipe is
    # larger and a badly delayed interrupt can come too late.)
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 4096)
    seen = b""
    try:
        while line := read_line(fd):
            seen += line
            if line.startswith(b"[3/11]"):  # the MCP session is running
                process.send_signal(signal.SIGINT)
                break
        rest, _ = process.communicate(timeout=DEMO_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()  # reap it and close the pipe
    output = (seen + rest).decode()
    assert b"[3/11]" in seen, output
    assert process.returncode == 130, output
    assert "interrupted" in output and "Stopped the fake provider and the gateway." in output
    assert "Summary" not in output
    assert_all_stopped(services(output))


def test_a_gateway_that_cannot_start_is_a_clear_failure(tmp_path: Path):
    data_dir = tmp_path / "broken"
    data_dir.mkdir()
    (data_dir / "gateway.sqlite3").write_text("this is not a database\n" * 100)
    result = run_demo("--data-dir", str(data_dir))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "could not start the local stack: the gateway exited" in result.stdout
    assert str(data_dir / "gateway.log") in result.stdout
    found = services_started(data_dir)
    for port in found:
        assert not answers(port)


def services_started(data_dir: Path) -> list[int]:
    """Ports the fake provider announced in its log (it prints its URL on start)."""
    log = data_dir / "fake-provider.log"
    return (
        [int(p) for p in re.findall(r"listening on http://127\.0\.0\.1:(\d+)", log.read_text())] if log.exists() else []
    )
