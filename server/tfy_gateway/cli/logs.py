"""`tfy-gateway logs`: recent data-plane request logs from a control plane's logs API.

Talks to `GET {TFY_BASE_URL}/api/svc/v1/llm-gateway/logs` with `TFY_API_KEY` through
`ControlPlaneClient.query_logs` (admins see every request, other users their own). Prints one line
per request, newest first, or JSON with `--format json`.
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

_COLUMNS = ("time", "status", "subject", "model", "tokens", "cost", "latency", "error")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "logs",
        help="show recent data-plane request logs",
        description=(
            "Show recent requests served by the gateway's data plane (TFY_BASE_URL with TFY_API_KEY): "
            "time, status, subject, model, tokens, cost, latency, the request's trace id when it has one, and "
            "error, newest first. Prompts and completions are only stored when a request asked for it "
            "(x-tfy-logging-config)."
        ),
    )
    parser.add_argument("--limit", type=int, default=20, help="how many records (1-1000, default 20)")
    parser.add_argument("--model", help="only requests for this model (requested or resolved), e.g. openai/gpt-4o")
    parser.add_argument("--subject", help="only requests by this subject, e.g. user:bob@example.com")
    parser.add_argument("--status", help="a status code (429), a class (5xx), 'error' or 'success'")
    parser.add_argument("--since", help="only newer requests: a duration ago (15m, 2h, 7d) or an ISO-8601 time")
    parser.add_argument("--trace-id", help="only the request of this W3C trace id (32 hex digits)")
    parser.add_argument("--blocked", action="store_true", help="only requests a guardrail blocked")
    parser.add_argument("--guardrail", help="only requests this guardrail checked, e.g. pii-guards/block-pii")
    add_format(parser)
    parser.set_defaults(handler=run)


def _row(item: dict[str, Any], traced: bool) -> tuple[str, ...]:
    model = item.get("requested_model") or "-"
    resolved = item.get("resolved_model")
    if resolved and resolved != model:
        model = f"{model} -> {resolved}"
    cost = item.get("cost")
    return (
        str(item.get("time", ""))[:19].replace("T", " "),
        str(item.get("status", "")),
        str(item.get("subject") or "-"),
        model,
        f"{item.get('prompt_tokens', 0)}/{item.get('completion_tokens', 0)}",
        "-" if cost is None else f"${cost:.6f}",
        f"{item.get('latency_ms', 0):.0f}ms",
        *((str(item.get("trace_id") or "-"),) if traced else ()),
        str(item.get("error") or "")[:80],
    )


def format_table(items: list[dict[str, Any]]) -> str:
    """One line per record; a `trace` column when any record belongs to a trace."""
    traced = any(item.get("trace_id") for item in items)
    columns = (*_COLUMNS[:-1], "trace", _COLUMNS[-1]) if traced else _COLUMNS
    rows = [columns, *(_row(item, traced) for item in items)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns) - 1)]
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
    filters = {"limit": args.limit, "model": args.model, "subject": args.subject}
    filters |= {"status": args.status, "since": args.since, "trace_id": args.trace_id}
    filters |= {"blocked": args.blocked, "guardrail": args.guardrail}
    try:
        body = anyio.run(_query, settings, filters)
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    items = body.get("data") or []
    if args.format == "json":
        print(json.dumps(body, indent=2))
    elif not items:
        print("no request logs match", file=sys.stderr)
    else:
        print(format_table(items))
        total = body.get("pagination", {}).get("total", len(items))
        if total > len(items):
            print(f"({len(items)} of {total}; use --limit or filters)", file=sys.stderr)
    return EXIT_OK


async def _query(settings: ControlPlaneSettings, filters: dict[str, Any]) -> dict[str, Any]:
    async with ControlPlaneClient.from_settings(settings) as client:
        return await client.query_logs(**filters)
