"""Run the fake provider: blocking (`serve`) or in a background thread (`running`).

`running()` gives tests, demos and benchmarks a real HTTP server on a free loopback port with its own
event loop, so it never competes with the caller's loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from tfy_gateway.fakeprovider.app import create_fake_provider_app


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@contextmanager
def running(host: str = "127.0.0.1", port: int = 0, **app_options: Any) -> Iterator[str]:
    """Serve the fake provider in a daemon thread; yields its base URL (`http://127.0.0.1:PORT`).

    `app_options` go to `create_fake_provider_app` (api_key, record_requests, models). The server stops
    and the thread is joined when the block exits.
    """
    app = create_fake_provider_app(**app_options)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    # handler_cancellation: a client that goes away cancels its handler, even one still waiting out
    # `latency_ms`, so `GET /_fake/stats` counts the disconnect and nothing keeps running for nobody.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, handler_cancellation=True)
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, sock).start())
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name=f"fake-provider:{bound_port}", daemon=True)
    thread.start()
    started.wait()
    if failure:
        sock.close()
        raise RuntimeError(f"fake provider failed to start on {host}:{bound_port}") from failure[0]
    try:
        yield f"http://{f'[{host}]' if ':' in host else host}:{bound_port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        sock.close()


def serve(host: str = "127.0.0.1", port: int = 9000, **app_options: Any) -> None:
    """Serve in the foreground until interrupted (the `tfy-gateway fake-provider` command)."""
    app = create_fake_provider_app(**app_options)
    web.run_app(app, host=host, port=port, access_log=None, print=None, handler_cancellation=True)
