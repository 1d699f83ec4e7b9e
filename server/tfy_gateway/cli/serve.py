"""`tfy-gateway serve`: run the local gateway (control plane + data plane) with uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from tfy_gateway.cli import servers
from tfy_gateway.gateway.settings import (
    ADMIN_TOKEN_ENV,
    GatewaySettings,
    SettingsError,
    env_var,
    flag,
    is_env_only,
    load_settings,
)

if TYPE_CHECKING:
    from tfy_gateway.fakeprovider.offline import OfflineProviders

logger = logging.getLogger("tfy_gateway.serve")
SEED_TIMEOUT_S = 120.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the local gateway",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run the local TrueFoundry-compatible gateway: the control plane the `tfy` CLI talks to\n"
            "(/api/svc/v1) and the OpenAI-compatible data plane (/api/llm). On first start it creates\n"
            "an admin user and writes its token to <data-dir>/admin-token (mode 0600), unless\n"
            f"{ADMIN_TOKEN_ENV} is set. Stop it with Ctrl-C or SIGTERM.\n\n"
            "Every setting below can also be given as TFY_GATEWAY_<NAME> in the environment;\n"
            "a flag wins over the variable, the variable over the default."
        ),
    )
    gateway = parser.add_argument_group("gateway settings (flag > environment variable > default)")
    for name, field in GatewaySettings.model_fields.items():
        if is_env_only(name):
            continue
        help_text = f"{field.description} (env {env_var(name)}; default {_shown(field.default)})"
        if field.annotation is bool:
            gateway.add_argument(
                flag(name), dest=name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text
            )
        else:
            gateway.add_argument(flag(name), dest=name, default=argparse.SUPPRESS, metavar="VALUE", help=help_text)
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="log verbosity"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request line")
    parser.add_argument(
        "--server",
        default=servers.DEFAULT,
        choices=servers.NAMES,
        help=(
            "the HTTP server (default uvicorn with uvloop and httptools); granian and aiohttp (through "
            "aiohttp-asgi) are for measuring against it and need their package installed"
        ),
    )
    parser.add_argument(
        "--reset-state",
        action="append",
        default=[],
        choices=("limits",),
        metavar="limits",
        help=(
            "before starting, move a state file aside so that it starts empty: 'limits' moves "
            "<data-dir>/limits.sqlite3 (rate-limit windows and budget spend) to limits.sqlite3.reset-<time>; "
            "for a file the gateway cannot read, as its start-up error says"
        ),
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help=(
            "also run the bundled fake provider and send every upstream call to it, whatever address a provider "
            "account names (a secret without a value gets a placeholder), and apply the example provider accounts "
            "(openai-main, azure-backup, anthropic-main) where missing: every example applies and answers offline. "
            "Stored manifests keep their addresses: without --offline the same data dir calls the real providers."
        ),
    )
    parser.set_defaults(handler=run)


def _shown(value: object) -> str:
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from tfy_gateway.cli._state_files import prepare_state_files
    from tfy_gateway.gateway import create_app
    from tfy_gateway.gateway.app import WARM_UPSTREAM_AFTER_S

    given = {name: getattr(args, name) for name in GatewaySettings.model_fields if hasattr(args, name)}
    try:
        settings = load_settings(given, os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from tfy_gateway.gateway.observability.exporter_logs import quiet_exporter_logs

    quiet_exporter_logs()  # a collector that is down is reported once per interval, not per batch
    stop = prepare_state_files(settings, args.reset_state)
    if stop is not None:
        return stop
    if not _is_loopback(settings.host):
        logger.warning("binding %s: the gateway is reachable from other machines", settings.host)
    if args.server != servers.DEFAULT:
        return _run_other_server(settings, args)
    if settings.workers > 1:
        return _run_workers(settings, args)
    with contextlib.ExitStack() as stack:
        offline: OfflineProviders | None = None
        if args.offline:
            from tfy_gateway.fakeprovider.offline import OfflineProviders

            logging.getLogger("httpx").setLevel(logging.WARNING)  # the seeding's requests are not news
            offline = stack.enter_context(OfflineProviders())
            settings = settings.model_copy(update={"offline_upstream": offline.url})
        app = create_app(settings, tune_gc=True, warm_upstream_after=WARM_UPSTREAM_AFTER_S)
        config = uvicorn.Config(app, **_uvicorn_options(settings, args))
        server = uvicorn.Server(config)
        if offline is not None:
            threading.Thread(target=_seed_when_up, args=(server, settings, offline), daemon=True).start()
        server.run()  # handles SIGINT and SIGTERM: stops accepting, drains, runs the lifespan shutdown
    return 0 if server.started else 1


def _run_workers(settings: GatewaySettings, args: argparse.Namespace) -> int:
    """`--workers N`: uvicorn's process supervisor, each worker building the app from the settings
    handed over in the environment and accepting on a socket of its own (`worker_sockets`). The data
    dir (schema, admin user and token) is prepared once here first, so that workers starting together
    do not race to create it."""
    from tfy_gateway.cli import worker_sockets

    if args.offline:
        print("error: --offline runs its fake provider in one process: use it with --workers 1", file=sys.stderr)
        return 2
    _prepare_data_dir(settings)
    servers.hand_over(settings, args.log_level)
    worker_sockets.run(servers.APP_FACTORY, settings.workers, _uvicorn_options(settings, args))
    return 0


def _run_other_server(settings: GatewaySettings, args: argparse.Namespace) -> int:
    """`--server granian|aiohttp`: the data dir prepared here, the app built in the serving process."""
    if args.offline:
        print(f"error: --offline runs with the default server, not --server {args.server}", file=sys.stderr)
        return 2
    _prepare_data_dir(settings)
    servers.hand_over(settings, args.log_level)
    try:
        servers.runner(args.server)(settings, settings.workers, _uvicorn_options(settings, args))
    except servers.ServerUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _prepare_data_dir(settings: GatewaySettings) -> None:
    """Schema, admin user and token created once, before any serving process starts."""
    import anyio

    from tfy_gateway.gateway.state import GatewayState

    async def prepare() -> None:
        state = await GatewayState.open(settings)
        await state.close()

    anyio.run(prepare)


def _uvicorn_options(settings: GatewaySettings, args: argparse.Namespace) -> dict[str, Any]:
    """What one process and N workers are served with alike."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": args.log_level,
        "access_log": args.access_log,
        "lifespan": "on",
        "server_header": False,
        "ws": "none",  # the gateway serves no WebSocket: skip importing a WebSocket stack at start-up
    }
    try:  # httptools (uvicorn[standard]), leaner per request (cli/uvicorn_http.py)
        from tfy_gateway.cli.uvicorn_http import ServeHttpToolsProtocol
    except ImportError:  # no httptools: uvicorn's own choice (h11)
        return options
    options["http"] = ServeHttpToolsProtocol
    return options


def _seed_when_up(server: Any, settings: GatewaySettings, offline: OfflineProviders) -> None:
    """Once the gateway answers, apply the starter accounts through its own control plane."""
    deadline = time.monotonic() + SEED_TIMEOUT_S
    while not server.started:
        if server.should_exit or time.monotonic() > deadline:
            return
        time.sleep(0.05)
    host = settings.host if _is_loopback(settings.host) else "127.0.0.1"
    base_url = f"http://{'[' + host + ']' if ':' in host else host}:{settings.port}"
    try:
        token = settings.admin_token or settings.admin_token_path.read_text().strip()
        report = offline.seed(base_url, token)
    except Exception as exc:  # the gateway still serves; say why the catalog is missing
        logger.error("offline: could not apply the starter provider accounts: %s", exc)
        return
    logger.info(
        "offline: every provider call goes to the fake provider at %s; example provider accounts %s",
        offline.url,
        f"applied: {', '.join(report.applied)}" if report.applied else "already there",
    )
