"""The app factory: extensions get routes and the state (with the compiled config); clean start and stop."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.gateway.conftest import load_examples
from tests.helpers import free_port, wait_for
from tfy_gateway.gateway import Extension, GatewaySettings, GatewayState, create_app, get_state

TOKEN = "tfy_app_test_admin_token"


class Probe:
    """A stand-in data plane: reads the config version and authenticates like the real one."""

    def __init__(self) -> None:
        self.version_at_start: int | None = None
        self.started = self.stopped = False

    @asynccontextmanager
    async def lifespan(self, state: GatewayState) -> AsyncIterator[None]:
        self.started = True
        self.version_at_start = state.config.version
        yield
        self.stopped = True

    async def boom(self, request: Request) -> JSONResponse:
        raise RuntimeError("secret internals")

    async def whoami(self, request: Request) -> JSONResponse:
        state = get_state(request)
        principal = state.authenticator.require(request.headers.get("authorization"))
        return JSONResponse({"subjects": list(principal.subjects), "version": state.config.version})


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Probe, uvicorn.Server]]:
    probe = Probe()
    extra = Extension(
        "probe",
        routes=[Route("/probe/whoami", probe.whoami), Route("/probe/boom", probe.boom)],
        lifespan=probe.lifespan,
    )
    settings = GatewaySettings(data_dir=tmp_path / "data", admin_token=TOKEN, watch_interval_s=0)
    port = free_port()
    app = create_app(settings, extra=[extra])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "the in-thread server starting")
    yield f"http://127.0.0.1:{port}", probe, server
    server.should_exit = True
    thread.join(timeout=60)


def test_extensions_get_routes_state_and_snapshots(served: tuple[str, Probe, uvicorn.Server]) -> None:
    base_url, probe, server = served
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert probe.started and probe.version_at_start == 1
    whoami = httpx.get(f"{base_url}/probe/whoami", headers=headers).json()
    assert whoami == {"subjects": ["user:admin@local", "team:everyone"], "version": 1}
    for manifest in load_examples("provider-accounts.yaml"):
        response = httpx.put(f"{base_url}/api/svc/v1/apply", json={"manifest": manifest}, headers=headers)
        assert response.status_code == 200
    assert httpx.get(f"{base_url}/probe/whoami", headers=headers).json()["version"] == 4
    dry = {"manifest": load_examples("routing-weighted.yaml")[0], "dryRun": True}
    assert httpx.put(f"{base_url}/api/svc/v1/apply", json=dry, headers=headers).status_code == 200
    assert httpx.get(f"{base_url}/probe/whoami", headers=headers).json()["version"] == 4  # a dry run installs nothing
    assert httpx.get(f"{base_url}/probe/whoami").status_code == 401
    boom = httpx.get(f"{base_url}/probe/boom")
    assert boom.status_code == 500 and boom.json()["error"]["code"] == "500"
    assert "secret internals" not in boom.text
    server.should_exit = True
    wait_for(lambda: probe.stopped, "the extension's lifespan shutting down")


async def test_mounts_answer_in_their_order_each_run_of_one_apps_prefixes_tested_at_once() -> None:
    """GatewayApp's mounts: the first prefix (in order) that a path starts with decides, and its app
    gets the rest of the path, whichever run of one app's prefixes it is in."""
    from tfy_gateway.gateway.app import GatewayApp

    seen: list[tuple[str, str]] = []

    def mounted(name: str) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            seen.append((name, scope["path_params"]["rest"]))

        return app

    files, plane, other = mounted("files"), mounted("plane"), mounted("other")
    app = GatewayApp(
        mounts={"/api/llm/files": files, "/api/llm/v1/files": files, "/api/llm": plane, "/x": other, "/x/y": files}
    )
    for path in ("/api/llm/files/f1", "/api/llm/v1/files", "/api/llm/v1/chat", "/api/llm/filesx", "/x/y/z"):
        await app({"type": "http", "path": path}, None, None)  # type: ignore[arg-type]
    assert seen == [("files", "/f1"), ("files", ""), ("plane", "/v1/chat"), ("files", "x"), ("other", "/y/z")]
