"""Fixtures for the local gateway's control-plane tests: real server processes, real HTTP."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest
import yaml

from tests.helpers import EXAMPLES, SUBPROCESS_TIMEOUT_S, GatewayProcess, code_under_test_env
from tfy_gateway.cli.main import main


def load_examples(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((EXAMPLES / name).read_text()) if doc]


class Api:
    """A thin client for one gateway and one token, returning raw httpx responses.

    It holds a connection pool: use it as a context manager, or get it from the `connect` fixture.
    """

    def __init__(self, base_url: str, token: str | None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=30.0)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def apply(self, manifest: dict[str, Any], *, dry_run: bool = False) -> httpx.Response:
        return self.http.put("/api/svc/v1/apply", json={"manifest": manifest, "dryRun": dry_run})

    def delete(self, manifest: dict[str, Any]) -> httpx.Response:
        return self.http.post("/api/svc/v1/delete", json={"manifest": manifest})

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def models(self) -> list[str]:
        response = self.http.get("/api/llm/models")
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["data"]]

    def close(self) -> None:
        self.http.close()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`tfy-gateway ARGS`, in-process (the same entry point as the console script), with `env` added to
    the environment for the call (e.g. `gateway.env`: TFY_HOST and TFY_API_KEY)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, env or {}),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        code = main(list(args))
    return subprocess.CompletedProcess(["tfy-gateway", *args], code, stdout.getvalue(), stderr.getvalue())


def add_user(gateway: GatewayProcess, email: str, *extra: str, admin_token: str | None = None) -> str:
    """Add a user through the running server's API (`users add` with TFY_HOST); returns its token, which
    works at once. `admin_token` when the server's is not `gateway.admin_token` (e.g. its admin-token file)."""
    env = {**gateway.env, "TFY_API_KEY": admin_token or gateway.admin_token}
    result = run_cli("users", "add", email, *extra, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


_HOLD = """
import sys
from pathlib import Path
from tfy_gateway.gateway.dir_lock import DataDirLock
lock = DataDirLock(Path(sys.argv[1]), address=sys.argv[2])
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def holding_data_dir(data_dir: Path, address: str = "http://127.0.0.1:9999") -> Iterator[subprocess.Popen[str]]:
    """A process holding the dir as a server does, until the block ends (or it is killed)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(data_dir), address],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**code_under_test_env(), "PATH": ""},
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=SUBPROCESS_TIMEOUT_S)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture(scope="module")
def shared_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway for a whole module whose tests do not depend on each other's state."""
    server = GatewayProcess(tmp_path_factory.mktemp("gateway") / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def admin(gateway: GatewayProcess) -> Iterator[Api]:
    with Api(gateway.base_url, gateway.admin_token) as api:
        yield api


@pytest.fixture
def connect() -> Iterator[Callable[[str, str | None], Api]]:
    """`connect(base_url, token)`: an Api for any gateway and token, closed at teardown whatever happens."""
    with contextlib.ExitStack() as stack:
        yield lambda base_url, token: stack.enter_context(Api(base_url, token))


@pytest.fixture
def examples() -> dict[str, list[dict[str, Any]]]:
    return {path.name: load_examples(path.name) for path in Path(EXAMPLES).glob("*.yaml")}


# A real PostgreSQL server (session) and a database per module, for the store and scale-out tests.
from tests.postgres import postgres_server, postgres_url  # noqa: E402, F401
