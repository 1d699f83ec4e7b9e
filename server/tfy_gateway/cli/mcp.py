"""`tfy-gateway mcp`: run the MCP server (stdio by default, or streamable HTTP on loopback)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

DEFAULT_HTTP_PORT = 8765


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "mcp",
        help="run the MCP server (tools to plan, apply and test gateway config)",
        description=(
            "Run the tfy-gateway MCP server. It talks to the control plane named by TFY_BASE_URL "
            "(or TFY_HOST / TFY_API_HOST) with TFY_API_KEY; credentials are never tool arguments. "
            "Logs go to stderr (stdout is the stdio wire)."
        ),
    )
    parser.add_argument(
        "--transport",
        choices=("stdio", "http"),
        default="stdio",
        help="stdio (default, what MCP clients launch) or streamable HTTP at http://HOST:PORT/mcp",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        choices=("127.0.0.1", "localhost", "::1"),
        help="loopback address for --transport http (default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_HTTP_PORT,
        help=f"port for --transport http (default {DEFAULT_HTTP_PORT})",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help=(
            "when no TFY_BASE_URL is set, start the bundled gateway in-process and use it, with the bundled "
            "fake provider and the example provider accounts pointed at it (models work offline at once)"
        ),
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=(
            "data dir of the --local gateway; its config persists there between sessions (default "
            "$TFY_GATEWAY_LOCAL_DATA_DIR, else $XDG_DATA_HOME/tfy-gateway/local, else "
            "~/.local/share/tfy-gateway/local). One session per data dir at a time."
        ),
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="stderr log level"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(stream=sys.stderr, level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    from tfy_gateway.mcp import create_server
    from tfy_gateway.mcp.http import run_http

    server = create_server(local=args.local, log_level=args.log_level, local_data_dir=args.data_dir)
    # SIGTERM keeps its default (end the process now): the --local gateway and fake provider are threads
    # of this process with a persistent data dir (SQLite, crash-safe), so there is nothing to clean up,
    # and a handler would wait on the thread blocked reading stdin. A closed stdin ends the server too.
    if args.transport == "http":
        if not 0 < args.port < 65536:
            print(f"tfy-gateway mcp: --port {args.port} is not a TCP port (1-65535)", file=sys.stderr)
            return 2
        run_http(server, args.host, args.port)
    else:
        server.run()
    return 0
