"""The in-process ASGI client the gateway tests use: streams as the app sends, a client that leaves is a
disconnect the app sees, the app's errors reach the test, and the lifespan runs around it all."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.asgi_client import Lifespan, Message, StreamingAsgiTransport


class App:
    """Answers `first`, then `second` once `go_on` is set; records what `receive` said after the body."""

    def __init__(self) -> None:
        self.go_on = asyncio.Event()
        self.heard: list[str] = []
        self.body = b""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/fail-early":
            raise RuntimeError("failed before answering")
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-body", b"%d" % len(self.body))]})
        if scope["path"] == "/fail-late":
            raise RuntimeError("failed mid-answer")
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        if scope["path"] == "/listen":
            self.heard.append((await receive())["type"])
        await self.go_on.wait()
        await send({"type": "http.response.body", "body": b"second", "more_body": False})


async def test_the_body_arrives_as_the_app_sends_it() -> None:
    app = App()
    client = httpx.AsyncClient(transport=StreamingAsgiTransport(app), base_url="http://app.test")
    async with client, client.stream("POST", "/", content=b"x" * 200_000) as response:
        assert response.headers["x-body"] == "200000"  # a body of several pieces, read whole
        pieces = response.aiter_raw()
        assert await pieces.__anext__() == b"first"  # while the app waits to send the rest
        app.go_on.set()
        assert [piece async for piece in pieces] == [b"second"]


async def test_a_client_that_leaves_is_a_disconnect_for_the_app() -> None:
    app = App()
    transport = StreamingAsgiTransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        async with client.stream("POST", "/listen") as response:
            assert await response.aiter_raw().__anext__() == b"first"
        app.go_on.set()  # the app's last send finds nobody, and is dropped
        await transport.aclose()
        assert app.heard == ["http.disconnect"]


async def test_cancelling_a_request_that_waits_for_its_answer_is_a_disconnect() -> None:
    asked, heard = asyncio.Event(), asyncio.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        asked.set()
        assert (await receive())["type"] == "http.disconnect"
        heard.set()

    async with httpx.AsyncClient(transport=StreamingAsgiTransport(slow), base_url="http://app.test") as client:
        waiting = asyncio.ensure_future(client.post("/"))
        await asyncio.wait_for(asked.wait(), 60)
        waiting.cancel()
        await asyncio.wait_for(heard.wait(), 60)


async def test_the_apps_errors_reach_the_test() -> None:
    app = App()
    with pytest.raises(RuntimeError, match="failed mid-answer"):  # when the client closes: no one saw it
        async with httpx.AsyncClient(transport=StreamingAsgiTransport(app), base_url="http://app.test") as client:
            with pytest.raises(RuntimeError, match="failed before answering"):
                await client.post("/fail-early")
            with pytest.raises(httpx.RemoteProtocolError):
                await client.post("/fail-late")


async def test_the_lifespan_runs_around_the_block_and_a_failed_startup_raises() -> None:
    events: list[str] = []

    def app(fail: bool) -> Any:
        async def lifespan(scope: Any, receive: Any, send: Any) -> None:
            while True:
                message: Message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup" and fail:
                    await send({"type": "lifespan.startup.failed", "message": "no database"})
                    return
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return

        return lifespan

    async with Lifespan(app(fail=False)):
        assert events == ["lifespan.startup"]
    assert events == ["lifespan.startup", "lifespan.shutdown"]
    with pytest.raises(RuntimeError, match="no database"):
        async with Lifespan(app(fail=True)):
            pass
