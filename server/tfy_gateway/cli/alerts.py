"""`tfy-gateway alerts`: budget alerts and where each was delivered, from a control plane's alerts API.

Talks to `GET {TFY_BASE_URL}/api/svc/v1/llm-gateway/alerts` with `TFY_API_KEY` (a tenant admin's)
through `ControlPlaneClient.list_alerts`. Prints one line per alert, newest first, with each
target's delivery status, or the raw answer with `--format json` (as `tfy-gateway logs` does).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio

from tfy_gateway.cli._control_plane import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, settings_from_env
from tfy_gateway.cli._output import add_format
from tfy_gateway.platform import ControlPlaneClient, ControlPlaneError, ControlPlaneSettings

STATUSES = ("pending", "delivered", "failed", "recorded")
_COLUMNS = ("time", "status", "budget", "entity", "period", "threshold", "used/limit", "targets", "last error")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "alerts",
        help="show budget alerts and their delivery status",
        description=(
            "Show the budget alerts the gateway fired (TFY_BASE_URL with an admin's TFY_API_KEY), newest "
            "first: which rule crossed which threshold for whom, and for each notification target whether "
            "it was delivered, is pending a retry, or failed (with the last error)."
        ),
    )
    parser.add_argument("--limit", type=int, default=20, help="how many alerts (1-1000, default 20)")
    parser.add_argument("--status", choices=STATUSES, help="only alerts in this state")
    parser.add_argument("--config", help="only alerts of this budget config (its name)")
    parser.add_argument("--rule", dest="rule_id", help="only alerts of this rule id")
    add_format(parser)
    parser.set_defaults(handler=run)


def _amount(value: Any, unit: str) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    if unit.startswith("cost"):
        return f"${value:,.2f}"
    return f"{value:,.0f}"


def _targets(item: dict[str, Any]) -> str:
    parts = []
    for target in item.get("targets") or []:
        where = f"{target.get('type')}:{target.get('notification_channel')}"
        if target.get("destination"):
            where += f"/{target['destination']}"
        state = str(target.get("status"))
        if state != "delivered":
            state += f"({target.get('attempts', 0)})"
        parts.append(f"{where} {state}")
    return ", ".join(parts) or "-"


def _last_error(item: dict[str, Any]) -> str:
    errors = [t.get("last_error") for t in item.get("targets") or [] if t.get("status") != "delivered"]
    return next((str(e) for e in errors if e), "")


def _row(item: dict[str, Any]) -> tuple[str, ...]:
    unit = str(item.get("unit", ""))
    return (
        str(item.get("occurred_at", ""))[:19].replace("T", " "),
        str(item.get("status", "")),
        f"{item.get('config')}/{item.get('rule_id')}",
        str(item.get("entity") or "(shared)"),
        str(item.get("period", "")),
        f"{item.get('threshold', 0):g}%",
        f"{_amount(item.get('used'), unit)}/{_amount(item.get('limit'), unit)}",
        _targets(item),
        _last_error(item),
    )


def format_table(items: list[dict[str, Any]]) -> str:
    rows = [_COLUMNS, *(_row(item) for item in items)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 1000:
        print(f"error: --limit must be between 1 and 1000, got {args.limit}", file=sys.stderr)
        return EXIT_USAGE
    settings = settings_from_env()
    if settings is None:
        return EXIT_USAGE
    filters = {"limit": args.limit, "status": args.status, "config": args.config, "rule_id": args.rule_id}
    try:
        body = anyio.run(_query, settings, filters)
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    items = body.get("data") or []
    if args.format == "json":
        print(json.dumps(body, indent=2))
    elif not items:
        print("no budget alerts match", file=sys.stderr)
    else:
        print(format_table(items))
        total = body.get("pagination", {}).get("total", len(items))
        if total > len(items):
            print(f"({len(items)} of {total}; use --limit or filters)", file=sys.stderr)
    return EXIT_OK


async def _query(settings: ControlPlaneSettings, filters: dict[str, Any]) -> dict[str, Any]:
    async with ControlPlaneClient.from_settings(settings) as client:
        return await client.list_alerts(**filters)
