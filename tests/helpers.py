"""Helpers shared by the test suite: free ports and a real gateway subprocess."""

from __future__ import annotations

import asyncio
import inspect
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"

# For `subprocess.run(..., timeout=SUBPROCESS_TIMEOUT_S)`: a hang guard, not a speed assertion. A CLI
# run takes a second or two on an idle machine; a loaded 2-core one can take many times that.
SUBPROCESS_TIMEOUT_S = 180

# For "this does not block for seconds" (a poll answered during a big apply, a call to a frozen Redis
# bounded by its timeout): the only kind of upper bound on time the suite asserts. It tells "bounded"
# from "waits for the other side" (seconds, or forever); it is no speed figure, and far enough above
# the real ones (tens of milliseconds, the benchmarks in scripts/bench_*.py print them) that a loaded
# machine does not trip it.
NOT_BLOCKED_S = 5.0


def code_under_test_env() -> dict[str, str]:
    """PYTHONPATH for a Python subprocess whose environment is built from scratch (e.g. an MCP stdio
    server, which inherits only PATH/HOME-like variables), so it imports the same `tfy_gateway` as
    these tests rather than whichever copy the virtualenv has installed."""
    import tfy_gateway

    return {"PYTHONPATH": str(Path(tfy_gateway.__file__).resolve().parent.parent)}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, *, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `url` until it answers, failing early when the process died.

    `timeout` is a hang guard, not a speed assertion: a server answers within a second or two on an idle
    machine, and this returns as soon as it does.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError as exc:
            last_error = exc
            time.sleep(0.05)
    raise RuntimeError(f"server did not answer {url} within {timeout}s: {last_error}")


def burst_client(*, max_connections: int = 100, **options: Any) -> httpx.AsyncClient:
    """An httpx client for a burst of concurrent requests to **one** origin (make one per origin).

    httpcore 1.0.9's pool can close a connection it has just handed to a queued request
    (encode/httpcore#1110): it trims idle connections whenever it holds more than
    `max_keepalive_connections` (20 by default) connections in all, and evicts an idle connection to
    open one to another origin; the request then fails with `ReadError` although the server did nothing
    wrong. Keep-alive allowed for every connection and a single origin leave it nothing to trim or evict.
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncClient(limits=limits, **options)


def wait_for(condition: Callable[[], T], what: str, *, timeout: float = 60.0, interval: float = 0.05) -> T:
    """Poll `condition` until it returns something truthy, and return that.

    For "it happens eventually" checks on real servers. `timeout` is a hang guard, not a speed
    assertion: on an idle machine the condition holds within a fraction of a second and this returns
    at once; the deadline only bounds how long a broken build takes to fail.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: still not the case after {timeout} s (last: {result!r})")
        time.sleep(interval)


def workers_agree(base_url: str, workers: int) -> Callable[[], bool]:
    """A condition for `wait_for`: each of the `workers` processes serving `base_url` has answered
    `/api/llm/health` with the same store version. Each probe opens a new connection, which any worker
    may accept; the worker that answered the last write had installed it before answering, so once
    every worker names the same version, each holds that write."""
    loaded: dict[int, int] = {}

    def check() -> bool:
        health = httpx.get(base_url + "/api/llm/health", timeout=30).json()
        loaded[health["worker"]] = health["store_version"]
        return len(loaded) == workers and len(set(loaded.values())) == 1

    return check


async def eventually(condition: Callable[[], T | Awaitable[T]], what: str, *, timeout: float = 60.0) -> T:
    """`wait_for` for code on an event loop: poll `condition` (a function, or a coroutine function such
    as an HTTP call to an in-process app) between turns of the loop (so that the tasks it waits on can
    run) until it returns something truthy, and return that.

    For "the other side has reached state X" where X is a predicate the code exposes, instead of a
    fixed sleep that guesses how long X takes. `timeout` is a hang guard, not a speed assertion.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return cast(T, result)
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: still not the case after {timeout} s (last: {result!r})")
        await asyncio.sleep(0.005)


class GatewayProcess:
    """`tfy-gateway serve` as a real subprocess on a free loopback port."""

    def __init__(self, data_dir: Path, *, extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None):
        self.data_dir = data_dir
        self.port = free_port()
        self.admin_token = "tfy_test_admin_" + secrets.token_hex(16)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.extra_args = extra_args
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self._extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment for clients of this gateway (the platform's variable names)."""
        return {"TFY_BASE_URL": self.base_url, "TFY_HOST": self.base_url, "TFY_API_KEY": self.admin_token}

    def start(self) -> None:
        env = {**os.environ, "TFY_GATEWAY_ADMIN_TOKEN": self.admin_token, **self._extra_env}
        for key in ("TFY_BASE_URL", "TFY_HOST", "TFY_API_HOST", "TFY_API_KEY"):
            env.pop(key, None)
        command = [sys.executable, "-m", "tfy_gateway", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--data-dir", str(self.data_dir), *self.extra_args]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_until_up(f"{self.base_url}/api/svc/v1/min-cli-version", process=self.process)
        except BaseException:
            self.kill()  # do not leave a half-started server behind
            raise

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)  # a graceful drain takes well under a second when idle
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class ServerThread:
    """An ASGI app served by uvicorn on a free loopback port, in a thread of the test process.

    For tests that must reach inside the gateway (a policy hook that records calls, an injected
    compile failure) while still talking to it over real HTTP.
    """

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
