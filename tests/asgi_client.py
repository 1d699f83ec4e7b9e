"""Drive an ASGI app in this event loop as a server would: its lifespan, and requests over httpx.

`httpx.ASGITransport` collects the whole response before returning it and reports the client gone
only once the app is done, so neither streaming nor a client that leaves can be tested through it.
`StreamingAsgiTransport` hands out the body as the app sends it, and a client that leaves (a response
closed before its end, or a request cancelled while it waits for the headers) is what uvicorn
reports: `receive()` answers `http.disconnect` and later sends are dropped. Exceptions the app
raises reach the caller, and `aclose()` re-raises any the caller did not see.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import httpx

Message = MutableMapping[str, Any]
App = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Any]

BODY_PIECE = 64 * 1024  # request bodies arrive in pieces of this size, as from a socket
_END = b""


class _Exchange:
    """One request/response between the client and the app; the app's side runs in its own task."""

    def __init__(self, body: bytes) -> None:
        self._pieces = [body[i : i + BODY_PIECE] for i in range(0, len(body), BODY_PIECE)] or [b""]
        self.head: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] = asyncio.get_running_loop().create_future()
        self.body: asyncio.Queue[bytes] = asyncio.Queue()
        self.complete = False
        self.left = asyncio.Event()  # the client went away, or the response is complete

    async def receive(self) -> Message:
        if self._pieces:
            piece = self._pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(self._pieces)}
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.left.is_set():
            return  # as uvicorn: the client is gone, nobody reads this
        if message["type"] == "http.response.start":
            self.head.set_result((message["status"], list(message.get("headers", []))))
        elif message["type"] == "http.response.body":
            if message.get("body"):
                self.body.put_nowait(bytes(message["body"]))
            if not message.get("more_body", False):
                self.complete = True
                self.left.set()
                self.body.put_nowait(_END)

    def leave(self) -> None:
        self.left.set()

    def finish(self) -> None:
        """The app returned: whatever the client still waits for will not come."""
        if not self.head.done():
            self.fail(RuntimeError("the app returned without answering"))
        elif not self.complete:
            self.body.put_nowait(_END)

    def fail(self, failure: Exception) -> None:
        self.head.set_exception(failure)
        if self.left.is_set():
            self.head.exception()  # the client is gone: nobody else will look


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(self, exchange: _Exchange, read_timeout: float | None) -> None:
        self._exchange = exchange
        self._timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        exchange = self._exchange
        while True:
            try:
                piece = await asyncio.wait_for(exchange.body.get(), self._timeout)
            except asyncio.TimeoutError:
                exchange.leave()
                raise httpx.ReadTimeout("no data from the app in time") from None
            if piece == _END:
                if not exchange.complete:
                    raise httpx.RemoteProtocolError("the app ended without completing the response body")
                return
            yield piece

    async def aclose(self) -> None:
        self._exchange.leave()


class StreamingAsgiTransport(httpx.AsyncBaseTransport):
    """`httpx.AsyncClient(transport=StreamingAsgiTransport(app), base_url="http://gateway.test")`."""

    def __init__(self, app: App, *, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self._app = app
        self._client_host = client[0]
        self._ports = itertools.count(client[1])
        self._running: set[asyncio.Task[None]] = set()
        self._failures: list[BaseException] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        url = request.url
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.headers.raw],
            "client": (self._client_host, next(self._ports)),
            "server": (url.host, url.port or (443 if url.scheme == "https" else 80)),
        }
        exchange = _Exchange(body)
        task = asyncio.get_running_loop().create_task(self._serve(scope, exchange))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            status, headers = await asyncio.wait_for(asyncio.shield(exchange.head), timeout)
        except asyncio.TimeoutError:
            exchange.leave()
            raise httpx.ReadTimeout("no response from the app in time") from None
        except BaseException:
            exchange.leave()  # the caller gave up (cancelled), or the app failed before answering
            raise
        return httpx.Response(status, headers=headers, stream=_ResponseBody(exchange, timeout), request=request)

    async def _serve(self, scope: MutableMapping[str, Any], exchange: _Exchange) -> None:
        try:
            await self._app(scope, exchange.receive, exchange.send)
        except Exception as exc:
            if exchange.head.done():
                self._failures.append(exc)  # after the headers: only aclose can report it
            else:
                exchange.fail(exc)  # before them: the caller gets it
        finally:
            exchange.finish()

    async def aclose(self) -> None:
        """Wait for the app to finish every request it started; raise what it raised unseen."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=60)
        for task in self._running:
            task.cancel()
        if self._failures:
            failures, self._failures[:] = list(self._failures), []
            raise failures[0]


class Lifespan:
    """`async with Lifespan(app):` runs the app's ASGI lifespan (startup, then shutdown) in a task."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.state: dict[str, Any] = {}

    async def _send(self, message: Message) -> None:
        await self._outbox.put(message)

    async def _expect(self, phase: str) -> None:
        assert self._task is not None
        answer = asyncio.ensure_future(self._outbox.get())
        await asyncio.wait({answer, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not answer.done():
            answer.cancel()
            self._task.result()  # the app raised: that is the error
            raise RuntimeError(f"the app's lifespan ended during {phase}")
        message = answer.result()
        if message["type"] != f"lifespan.{phase}.complete":
            raise RuntimeError(f"lifespan {phase} failed: {message.get('message', message)}")

    async def __aenter__(self) -> Lifespan:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self._task = asyncio.get_running_loop().create_task(self._app(scope, self._inbox.get, self._send))
        await self._inbox.put({"type": "lifespan.startup"})
        await self._expect("startup")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._expect("shutdown")
        await self._task
