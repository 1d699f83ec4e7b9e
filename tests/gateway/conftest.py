"""Fixtures for the local gateway's tests: real server processes over real HTTP, or a gateway in the
test's own event loop (`inprocess_gateway`)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.gateway.inprocess import InProcessGateway, running_gateway
from tests.helpers import EXAMPLES, GatewayProcess
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


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`tfy-gateway ARGS`, in-process (the same entry point as the console script)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(list(args))
    return subprocess.CompletedProcess(["tfy-gateway", *args], code, stdout.getvalue(), stderr.getvalue())


def add_user(gateway: GatewayProcess, email: str, *extra: str) -> str:
    """Add a user offline while the server runs; returns its token."""
    result = run_cli("users", "add", email, "--data-dir", str(gateway.data_dir), *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def wait_for_token(gateway: GatewayProcess, token: str, timeout: float = 60.0) -> None:
    """The server picks up offline changes within its watch interval; wait for that (a hang guard, not a speed
    assertion: it returns as soon as the token works)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx.get(f"{gateway.base_url}/api/svc/v1/session", headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError("the server did not pick up the new user's token")


@pytest.fixture
async def inprocess_gateway(tmp_path: Path) -> AsyncIterator[InProcessGateway]:
    """A gateway in this event loop with the example provider accounts on the fake provider, as
    `serve --offline` starts; no sockets (see tests/gateway/inprocess.py)."""
    async with running_gateway(tmp_path / "gateway-data") as gateway:
        yield gateway


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
