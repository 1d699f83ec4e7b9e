"""`tfy-gateway migrate limits FILE...`: V1 rate limits and budgets -> V2 manifests, with proof.

Writes `rate-limits-v2.yaml`, `budgets-v2.yaml` and `migration-report.json` to `--out`, validates
them, and replays traffic (recorded with `--logs`, else generated from the rules) against V1 and V2,
listing every request whose outcome differs and why. The platform removes V1 rate limits on
2026-12-15. Exit 0: written and valid; 1: the V2 manifests do not validate, or `--fail-on-difference`
and some request differs; 2: usage (no V1 config, unreadable files).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from tfy_gateway.cli._control_plane import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, load_documents
from tfy_gateway.cli._output import add_format
from tfy_gateway.policy.migrate import STRATEGIES
from tfy_gateway.policy.migration import NothingToMigrate, run_migration
from tfy_gateway.policy.migration_text import format_migration
from tfy_gateway.policy.recorded import LogFormatError, read_records, recorded_traffic

REPORT_FILE = "migration-report.json"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="migrate V1 rate limits and budgets to V2 manifests, with an equivalence report",
        description="Migrate gateway configuration to its current form. `migrate limits` turns "
        "gateway-rate-limiting-config and gateway-budget-config (V1: first matching rule decides) into "
        "tenant-rate-limit-config/model, tenant-budget-config and team-budget-config manifests (V2: every "
        "matching limit must allow), and proves them by replaying traffic against both.",
    )
    what = parser.add_subparsers(dest="what", metavar="WHAT")
    limits = what.add_parser(
        "limits",
        help="V1 rate limits and budgets -> V2 manifests",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    limits.add_argument("files", nargs="+", metavar="FILE", help="manifests: the V1 configs, and any team manifests")
    limits.add_argument("--out", default="migrated", help="directory to write the V2 manifests to (default: migrated)")
    limits.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="exclusive",
        help="exclusive (default): V2 excludes what earlier V1 rules decide where it can; overlap: keep every "
        "V1 `when` (every counter counts what V1 counted, V2 also refuses what an earlier rule decided)",
    )
    limits.add_argument("--logs", help="recorded traffic to replay: `tfy-gateway logs --format json` output")
    limits.add_argument("--audit", action="store_true", help="write every V2 limit in audit mode (staged rollout)")
    limits.add_argument("--team", action="append", default=[], help="a team name (for per-team budgets); repeatable")
    limits.add_argument("--fail-on-difference", action="store_true", help="exit 1 when any request's outcome differs")
    add_format(limits)
    limits.set_defaults(handler=run)
    parser.set_defaults(handler=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    documents = load_documents(args.files)
    if documents is None:
        return EXIT_USAGE
    recorded = None
    if args.logs:
        try:
            recorded = recorded_traffic(read_records(args.logs))
        except (OSError, LogFormatError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    manifests = [d.data for d in documents if isinstance(d.data, dict)]
    try:
        result = anyio.run(
            partial(
                run_migration,
                manifests,
                strategy=args.strategy,
                recorded=recorded,
                audit=args.audit,
                teams=args.team,
                source=", ".join(args.files),
            )
        )
    except NothingToMigrate as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("rate-limits-v2.yaml", result.rate_limits_yaml), ("budgets-v2.yaml", result.budgets_yaml)):
        if text:
            (out / name).write_text(text, encoding="utf-8")
            written.append(str(out / name))
    report = result.to_dict()
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    written.append(str(out / REPORT_FILE))
    if args.format == "json":
        print(json.dumps({"written": written, **report}, indent=2))
    else:
        print(format_migration(result, written))
    if not result.valid or (args.fail_on_difference and result.differences):
        return EXIT_FAILURE
    return EXIT_OK
