"""`tfy-gateway usage`: requests, tokens and cost over a window, and with `--limits` what every
rate-limit and budget rule has counted for each entity, with what is left.

Reads `GET .../llm-gateway/usage/summary` and, with `--limits`, `.../config/rate-limit/usage` and
`.../config/budget/usage` on TFY_BASE_URL with TFY_API_KEY (an admin's, for the limits).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio

from tfy_gateway.cli._control_plane import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, settings_from_env
from tfy_gateway.platform import ControlPlaneClient, ControlPlaneError, ControlPlaneSettings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "usage",
        help="usage summary, and rate-limit and budget headroom per entity",
        description=(
            "Summarise requests, tokens and cost (default: the last 24 hours) per model and subject. "
            "With --limits, also list every rate-limit and budget rule with what each entity (user, team, "
            "model, metadata value) used in the current window or period, its limit and what is left."
        ),
    )
    parser.add_argument("--since", help="a duration ago (15m, 2h, 7d) or an ISO-8601 time (default: 24h)")
    parser.add_argument("--model", help="only this model, e.g. openai/gpt-4o")
    parser.add_argument("--subject", help="only this subject, e.g. user:bob@example.com")
    parser.add_argument("--blocked", action="store_true", help="only requests a guardrail blocked")
    parser.add_argument("--limits", action="store_true", help="also show rate-limit and budget usage per entity")
    parser.add_argument("--rule", help="with --limits: only the rule with this id")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_env()
    if settings is None:
        return EXIT_USAGE
    if args.rule and not args.limits:
        print("error: --rule narrows --limits; add --limits", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = anyio.run(_read, settings, args)
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(render(report), end="")
    return EXIT_OK


async def _read(settings: ControlPlaneSettings, args: argparse.Namespace) -> dict[str, Any]:
    async with ControlPlaneClient.from_settings(settings) as client:
        report: dict[str, Any] = {
            "summary": await client.usage_summary(
                model=args.model, subject=args.subject, since=args.since, blocked=args.blocked
            )
        }
        if args.limits:
            report["rate_limits"] = (await client.limit_usage("rate-limit", rule=args.rule)).get("matched", [])
            report["budgets"] = (await client.limit_usage("budget", rule=args.rule)).get("matched", [])
    return report


def render(report: dict[str, Any]) -> str:
    summary = report.get("summary") or {}
    window = summary.get("window") or {}
    totals = summary.get("total") or {}
    lines = [f"Window: {window.get('since') or '-'} .. {window.get('until') or '-'}"]
    if totals:
        lines.append("Total:  " + ", ".join(f"{key} {value}" for key, value in totals.items()))
    for title, key in (("Rate limits", "rate_limits"), ("Budgets", "budgets")):
        if key not in report:
            continue
        rules = report[key]
        lines.append(f"{title}: " + ("none applied" if not rules else ""))
        for rule in rules:
            lines.append(f"  {rule['name']} ({rule['config']}; per {rule['applies_to']}; {rule['mode']})")
            if not rule.get("entities"):
                lines.append("    nothing counted in the current window")
            for entity in rule.get("entities", []):
                for unit, period in entity.get("periods", {}).items():
                    lines.append("    " + limit_line(entity.get("entity"), unit, period))
    return "\n".join(lines) + "\n"


def limit_line(entity: str | None, unit: str, period: dict[str, Any]) -> str:
    """One counter: "user:a@x  3 / 10 requests_per_minute (30%), 7 left, sliding minute"."""
    cost = unit.startswith("cost")

    def amount(value: float) -> str:
        return f"${value:,.4f}" if cost else f"{value:,.0f}"

    text = (
        f"{entity or '(shared)'}  {amount(period['used'])} / {amount(period['limit'])} {unit} "
        f"({period['percentage']:.0f}%), {amount(period['remaining'])} left, {period['window']}"
    )
    resets = period.get("resets_in_s")
    return text + (f", resets in {resets:.0f} s" if resets is not None else "")
