"""`tfy-gateway serve`: run the local gateway (control plane + data plane) with uvicorn."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path

from tfy_gateway.gateway.settings import (
    ADMIN_TOKEN_ENV,
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_PORT,
    GatewaySettings,
)

logger = logging.getLogger("tfy_gateway.serve")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the local gateway",
        description=(
            "Run the local TrueFoundry-compatible gateway: the control plane the `tfy` CLI talks to "
            "(/api/svc/v1) and the OpenAI-compatible data plane (/api/llm). On first start it creates "
            "an admin user and writes its token to <data-dir>/admin-token (mode 0600), unless "
            f"{ADMIN_TOKEN_ENV} is set. Stop it with Ctrl-C or SIGTERM."
        ),
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}, loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(DEFAULT_DATA_DIR),
        help=f"where the database and admin-token live (default {DEFAULT_DATA_DIR})",
    )
    parser.add_argument("--redis-url", default=None, help="Redis URL for shared rate-limit state (optional)")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="log verbosity"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request line")
    parser.set_defaults(handler=run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from tfy_gateway.gateway import create_app

    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    admin_token = os.environ.get(ADMIN_TOKEN_ENV) or None
    if admin_token is not None and not admin_token.startswith("tfy_"):
        print(
            f"error: {ADMIN_TOKEN_ENV} must start with 'tfy_' (the tfy CLI rejects other tokens)",
            file=sys.stderr,
        )
        return 2
    if not 0 < args.port < 65536:
        print(f"error: --port must be between 1 and 65535, got {args.port}", file=sys.stderr)
        return 2
    settings = GatewaySettings(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        redis_url=args.redis_url,
        admin_token=admin_token,
    )
    if not _is_loopback(args.host):
        logger.warning("binding %s: the gateway is reachable from other machines", args.host)
    config = uvicorn.Config(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        lifespan="on",
        server_header=False,
    )
    server = uvicorn.Server(config)
    server.run()  # handles SIGINT and SIGTERM: stops accepting, drains, runs the lifespan shutdown
    return 0 if server.started else 1
