"""`tfy-gateway probe limits URL`: measure any OpenAI-compatible gateway's request rate limit.

Sends the smallest chat requests (a 2-character prompt, max_tokens 1) to MODEL at URL (the
OpenAI-compatible base, e.g. http://127.0.0.1:8787/api/llm) with the token in --token-env, never more
than --max-requests requests and --max-tokens tokens, which it announces before the first request.
Reports the limit, the window (how long after a request its capacity comes back, within one bucket),
its shape (sliding steps or a fixed reset), whether retry-after and x-ratelimit-* were right, and,
with --config and --subject, what the config says. A probe uses up the caller's limit for a window.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from functools import partial
from typing import Any

import anyio

from tfy_gateway.cli._control_plane import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from tfy_gateway.policy.config import PolicyConfigError, load_config
from tfy_gateway.policy.expected import expected_request_limit
from tfy_gateway.policy.probe import Prober, announce, format_probe


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probe", help="measure a gateway's rate limit from the outside (limit, window, headers)", description=__doc__
    )
    what = parser.add_subparsers(dest="what", metavar="WHAT")
    limits = what.add_parser(
        "limits",
        help="probe a request rate limit",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    limits.add_argument("url", metavar="URL", help="the OpenAI-compatible base URL, e.g. http://127.0.0.1:8787/api/llm")
    limits.add_argument("--model", required=True, help="the model to call, e.g. openai-main/gpt-4o-mini")
    limits.add_argument(
        "--token-env", default="TFY_API_KEY", help="the variable holding the token (default TFY_API_KEY)"
    )
    limits.add_argument("--max-requests", type=int, default=200, help="the most requests it may send (default 200)")
    limits.add_argument("--max-tokens", type=int, default=2_000, help="the most tokens it may spend (default 2000)")
    limits.add_argument("--resolution", type=float, default=1.0, help="seconds between recovery polls (default 1)")
    limits.add_argument(
        "--window", type=float, help="the window in seconds when the gateway sends no x-ratelimit-reset"
    )
    limits.add_argument("--config", nargs="+", metavar="FILE", help="manifests to compare with (with --subject)")
    limits.add_argument("--subject", help="who the token belongs to, e.g. user:bob@example.com (with --config)")
    limits.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    limits.set_defaults(handler=run)
    parser.set_defaults(handler=lambda _args: (parser.print_help(sys.stderr), EXIT_USAGE)[1])


def run(args: argparse.Namespace) -> int:
    token = os.environ.get(args.token_env)
    if not token:
        print(f"error: set {args.token_env} to the token to probe with", file=sys.stderr)
        return EXIT_USAGE
    if args.max_requests < 2 or args.max_tokens < 4:
        print("error: a probe needs at least 2 requests and 4 tokens", file=sys.stderr)
        return EXIT_USAGE
    expected = None
    if args.config:
        if not args.subject:
            print("error: --config needs --subject (who the token belongs to)", file=sys.stderr)
            return EXIT_USAGE
        try:
            expected = expected_request_limit(load_config(args.config), args.subject, args.model)
        except (PolicyConfigError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    print(announce(args.url, args.model, args.max_requests, args.max_tokens), file=sys.stderr, flush=True)
    prober = Prober(
        args.url, token, args.model, max_requests=args.max_requests, max_tokens=args.max_tokens,
        resolution_s=args.resolution, window_s=args.window,
    )  # fmt: skip
    result = anyio.run(partial(Prober.run, prober))
    if args.format == "json":
        expected_out = {"limit": expected[0], "window_s": expected[1]} if expected else None
        print(json.dumps({**result.to_dict(), "expected": expected_out}, indent=2))
    else:
        print(format_probe(result, expected))
    return EXIT_FAILURE if result.limit is None else EXIT_OK
