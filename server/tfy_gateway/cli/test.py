"""`tfy-gateway test SUITE.yaml...`: policy tests as code, in the convention of `opa test`.

Each suite names the manifest files it tests; every case runs in this process against them, on a
simulated clock (nothing is applied anywhere), or with `--against URL` against a running gateway.
One PASS/FAIL line per case, a summary, exit 0 when every case passes, 1 when one fails, 2 for a
suite or config that cannot be read. `--format junit` for CI. Format: references/policy-tests.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from typing import Any

import anyio

from tfy_gateway.cli._control_plane import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from tfy_gateway.policy.config import PolicyConfigError, load_config
from tfy_gateway.policy.live import LiveError, cannot_run_live, live
from tfy_gateway.policy.runner import SuiteResult, run_suite, simulated
from tfy_gateway.policy.suite import SuiteError, load_suite
from tfy_gateway.policy.suite_report import format_junit, format_text


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "test",
        help="run policy test suites (routing, access, rate limits, budgets) on a simulated clock",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("suites", nargs="+", metavar="SUITE", help="suite files (YAML)")
    parser.add_argument(
        "-c", "--config", action="append", default=[], help="more manifest files, after the suite's own `config`"
    )
    parser.add_argument(
        "--against",
        metavar="URL",
        help="run against a live gateway (callers' tokens from their token_env); cases that move "
        "simulated time are skipped",
    )
    parser.add_argument("--format", choices=("text", "json", "junit"), default="text", help="output format")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    results: list[tuple[str, SuiteResult]] = []
    for path in args.suites:
        try:
            results.append((path, _run_one(path, args.config, args.against)))
        except (SuiteError, LiveError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except PolicyConfigError as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.format == "json":
        print(json.dumps([{"file": path, **result.to_dict()} for path, result in results], indent=2))
    elif args.format == "junit":
        for path, result in results:
            print(format_junit(result, path))
    else:
        print("\n\n".join(format_text(result, path) for path, result in results))
    return EXIT_FAILURE if any(result.failed for _, result in results) else EXIT_OK


def _run_one(path: str, extra_config: list[str], against: str | None) -> SuiteResult:
    suite, config_files = load_suite(path)
    if against is not None:
        return anyio.run(partial(run_suite, suite, live(against, suite), mode=against, skip=cannot_run_live))
    config = load_config([*config_files, *extra_config], collaborators=suite.collaborators)
    return anyio.run(run_suite, suite, simulated(config))
