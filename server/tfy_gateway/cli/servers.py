"""The HTTP servers `tfy-gateway serve --server NAME` can run the gateway app on.

uvicorn (uvloop + httptools) is the default: it holds every behaviour the tests check (one process
or `--workers N`, graceful shutdown on SIGINT/SIGTERM, `--offline`). granian (a Rust HTTP layer)
and aiohttp's own server (through the aiohttp-asgi adapter) are there to measure against it
(scripts/bench_compare.py `gateway-all@granian`); neither is a dependency: each is imported only
when chosen, and its absence is reported as a start-up error. Both build the app in the serving
process from the settings in the environment (`APP_FACTORY`), like uvicorn's workers.

Why uvicorn stays the default (issue 27, references/performance.md): granian 2.8 cost about the
same server CPU per request (gateway-bare +32% at c=1, -5% at c=32; gateway-all -13% / +3%, in
interleaved rounds), with a supervisor process beside its worker (+75-85 MB RSS: gateway-all 203 MB,
over the 150 MB target); aiohttp-asgi 0.7.1 answered no request over wrk's keep-alive connections,
its streams timed out and SIGTERM did not stop it within 45 s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from tfy_gateway.gateway.settings import GatewaySettings

DEFAULT = "uvicorn"
NAMES = ("uvicorn", "granian", "aiohttp")
APP_FACTORY = "tfy_gateway.cli._worker_app:app"
INSTALL = {"granian": "granian", "aiohttp": "aiohttp-asgi"}


class ServerUnavailable(RuntimeError):
    """The chosen server's package is not installed; the message says which one to install."""


def hand_over(settings: GatewaySettings, log_level: str) -> None:
    """Put the settings where `app_from_environment` reads them in every serving process."""
    from tfy_gateway.gateway.app import WORKER_SETTINGS_ENV

    payload = {"settings": settings.model_dump(mode="json"), "log_level": log_level}
    os.environ[WORKER_SETTINGS_ENV] = json.dumps(payload)


def runner(name: str) -> Callable[[GatewaySettings, int, dict[str, Any]], None]:
    """The function that serves the app on `name` until SIGINT/SIGTERM: (settings, workers, options)."""
    runners = {"granian": _run_granian, "aiohttp": _run_aiohttp}
    if name not in runners:
        raise ValueError(f"unknown server {name!r}")
    return runners[name]


def _run_granian(settings: GatewaySettings, workers: int, options: dict[str, Any]) -> None:
    """granian's supervisor and `workers` worker processes; SIGTERM drains them (lifespan shutdown)."""
    try:
        from granian import Granian
        from granian.constants import Interfaces, Loops
        from granian.log import LogLevels
    except ImportError as exc:
        raise ServerUnavailable(f"--server granian needs the granian package ({exc})") from None
    Granian(
        APP_FACTORY,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        factory=True,
        log_level=LogLevels(options["log_level"]),
        log_access=options["access_log"],
        websockets=False,
    ).serve()


def _run_aiohttp(settings: GatewaySettings, workers: int, options: dict[str, Any]) -> None:
    """aiohttp's server in this process (one worker), the ASGI app mounted at the root."""
    if workers > 1:
        raise ServerUnavailable("--server aiohttp serves one process: use --workers 1")
    try:
        import uvloop
        from aiohttp import web
        from aiohttp.log import access_logger
        from aiohttp_asgi import ASGIResource
    except ImportError as exc:
        raise ServerUnavailable(f"--server aiohttp needs the aiohttp-asgi package ({exc})") from None
    from tfy_gateway.cli._worker_app import app

    application = web.Application()
    resource = ASGIResource(app(), root_path="/")
    application.router.register_resource(resource)
    resource.lifespan_mount(application)
    web.run_app(
        application,
        host=settings.host,
        port=settings.port,
        access_log=access_logger if options["access_log"] else None,
        print=None,
        loop=uvloop.new_event_loop(),
    )
