"""`tfy-gateway replay`: what a proposed config would have done to recorded traffic.

Replays request logs (`--logs FILE`: `tfy-gateway logs --format json` or the logs API's answer;
without it, the logs of the gateway at TFY_HOST) against the current config (`--config FILE...`)
and the current config with the proposed manifests on top (`--proposed FILE...`), in process on a
clock that follows the recorded times. Reports requests newly refused (by which rule) or admitted,
rerouted, denied, the token and cost deltas per team, user and model, and budgets exhausted earlier.
Exit 0; 1 with `--fail-on-change` when any request changes; 2 for unreadable files or logs.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from typing import Any

import anyio

from tfy_gateway.cli._control_plane import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, settings_from_env
from tfy_gateway.platform import ControlPlaneClient, ControlPlaneError, ControlPlaneSettings
from tfy_gateway.policy.config import PolicyConfigError, load_config
from tfy_gateway.policy.recorded import LogFormatError, read_records, recorded_traffic
from tfy_gateway.policy.replay import replay
from tfy_gateway.policy.replay_text import format_replay

PAGE = 1_000


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay recorded request logs against a proposed config and report what changes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", nargs="+", required=True, metavar="FILE", help="the config the logs ran under")
    parser.add_argument("--proposed", nargs="+", required=True, metavar="FILE", help="manifests to try on top of it")
    parser.add_argument("--logs", metavar="FILE", help="a request-log export (default: the logs of TFY_HOST's gateway)")
    parser.add_argument("--since", default="24h", help="with logs from TFY_HOST: how far back (default 24h)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="with logs from TFY_HOST: at most this many")
    parser.add_argument(
        "--collaborators", nargs="*", default=[], help="subjects added to every provider account (as serve --offline)"
    )
    parser.add_argument("--fail-on-change", action="store_true", help="exit 1 when any request changes")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        current = load_config(args.config, collaborators=args.collaborators)
        proposed = load_config([*args.config, *args.proposed], collaborators=args.collaborators)
    except PolicyConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.logs:
            records = read_records(args.logs)
        else:
            settings = settings_from_env()
            if settings is None:
                return EXIT_USAGE
            records = anyio.run(partial(_fetch, settings, args.since, args.max_requests))
    except (OSError, LogFormatError, ControlPlaneError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    report = anyio.run(replay, recorded_traffic(records), current, proposed)
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_replay(report))
    return EXIT_FAILURE if args.fail_on_change and report.changes else EXIT_OK


async def _fetch(settings: ControlPlaneSettings, since: str, most: int) -> list[dict[str, Any]]:
    """Every request-log record since `since` (the API pages newest first)."""
    records: list[dict[str, Any]] = []
    async with ControlPlaneClient.from_settings(settings) as client:
        while len(records) < most:
            page = await client.query_logs(limit=PAGE, offset=len(records), since=since)
            data = [item for item in page.get("data") or () if isinstance(item, dict)]
            records += data
            if len(data) < PAGE:
                break
    return records[:most]
