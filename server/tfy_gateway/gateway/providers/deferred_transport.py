"""`DeferredTransport`: a `Transport` whose real one is built on the first upstream call, off the loop.

The production transport needs aiohttp, whose import is about a sixth of the gateway's start-up; a
gateway answers its health checks and control-plane requests without it. So the data plane holds this
wrapper: the first call (or `warm()`, which the data plane starts once it is serving) runs the factory
in a worker thread, so the loop keeps serving while aiohttp loads, and every later call goes straight
to the built transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from tfy_gateway.gateway.providers.transport import HttpRequest, HttpResponse, HttpStream, Transport


class ClosableTransport(Transport, Protocol):
    async def aclose(self) -> None: ...


class DeferredTransport:
    """Builds its transport with `factory` (called once, in a worker thread) when first needed; close it
    with `aclose()`, which closes the built transport if there is one."""

    def __init__(self, factory: Callable[[], ClosableTransport]) -> None:
        self._factory = factory
        self._built: ClosableTransport | None = None
        self._building: asyncio.Future[ClosableTransport] | None = None
        self._closed = False

    async def _transport(self) -> ClosableTransport:
        if self._closed:
            raise RuntimeError("the upstream transport is closed")
        if self._building is None:
            self._building = asyncio.ensure_future(asyncio.to_thread(self._factory))
        built = await asyncio.shield(self._building)  # a cancelled caller leaves the build to the next one
        if self._closed:  # closed while it was being built
            await built.aclose()
            raise RuntimeError("the upstream transport is closed")
        self._built = built
        return built

    def warm(self) -> None:
        """Start building in the background (the first call then waits less, or not at all)."""
        if self._building is None and not self._closed:
            self._building = asyncio.ensure_future(asyncio.to_thread(self._factory))

    @property
    def coarse_deadlines(self) -> object:
        """The built transport's shared deadline watch, if it has one (see `coarse_deadlines_of`)."""
        return getattr(self._built, "coarse_deadlines", None)

    async def post(self, request: HttpRequest) -> HttpResponse:
        built = self._built
        if built is None:
            built = await self._transport()
        return await built.post(request)

    async def open_stream(self, request: HttpRequest) -> HttpStream:
        built = self._built
        if built is None:
            built = await self._transport()
        return await built.open_stream(request)

    async def aclose(self) -> None:
        """Close the built transport (waiting for a build under way). Idempotent."""
        self._closed = True
        building, self._building = self._building, None
        built, self._built = self._built, None
        if built is None and building is not None:
            try:
                built = await building
            except Exception:  # a failed build left nothing to close
                return
        if built is not None:
            await built.aclose()
