"""Start a server process, wait until it answers, stop it: the one way every benchmarked system runs.

Each process gets its own session (so a launcher and the workers it forks are stopped together, by
the id of the process this harness started) and a log file in the run's work dir, whose tail is
shown when a server fails to come up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StartError(RuntimeError):
    """A server did not come up; the message carries its log's tail."""


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Poll `url` until it answers with any status; `timeout` is a hang guard, not a speed figure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartError(f"exited with {process.returncode} before answering {url}:\n{_tail(log)}")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise StartError(f"did not answer {url} within {timeout:.0f} s:\n{_tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's group (it leads its own session), SIGKILL after 15 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


@contextmanager
def running(
    command: list[str],
    health_url: str,
    log: Path,
    *,
    env: dict[str, str | None] | None = None,
    timeout: float = 90.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` started with `env` over ours (None removes a variable), up once `health_url` answers,
    stopped on exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    environment = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_until_up(health_url, process, log, timeout)
        yield process
    finally:
        stop(process)


@contextmanager
def raw_upstream() -> Iterator[str]:
    """scripts/raw_upstream.py on a free loopback port, for the in-process benches' runs to call: its
    URL, and the process stopped on exit."""
    port = free_port()
    script = Path(__file__).resolve().parent.parent / "raw_upstream.py"
    process = subprocess.Popen([sys.executable, str(script), "--port", str(port)])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)
