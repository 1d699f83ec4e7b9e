"""`tfy-gateway fake-provider`: serve the deterministic fake LLM provider (OpenAI, Anthropic, Azure)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

API_KEY_ENV = "TFY_FAKE_PROVIDER_API_KEY"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fake-provider",
        help="serve a fake OpenAI/Anthropic/Azure OpenAI provider for tests, demos and benchmarks",
        description=(
            "Serve a fast, deterministic fake LLM provider. Shape its behaviour per request with knobs "
            "in the path (/knobs/latency_ms=50,status=503/v1/...) or the model id (gpt-4o@tokens=5); "
            "see `python -c 'import tfy_gateway.fakeprovider as f; help(f)'`."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9000, help="port to listen on (default: 9000)")
    parser.add_argument(
        "--require-api-key",
        action="store_true",
        help=f"require the API key from ${API_KEY_ENV} on every request (default: any key is accepted)",
    )
    parser.add_argument(
        "--record-requests",
        type=int,
        default=256,
        metavar="N",
        help="keep the last N requests for GET /_fake/requests (0 disables; default: 256)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tfy_gateway.fakeprovider import serve

    api_key = None
    if args.require_api_key:
        api_key = os.environ.get(API_KEY_ENV)
        if not api_key:
            print(f"error: --require-api-key needs ${API_KEY_ENV} to be set", file=sys.stderr)
            return 2
    if not 0 <= args.port <= 65535:
        print(f"error: --port {args.port} is not a port number (0-65535)", file=sys.stderr)
        return 2
    print(
        f"fake provider listening on http://{args.host}:{args.port} (OpenAI /v1, Anthropic /v1/messages, "
        "Azure /openai/deployments/...)",
        flush=True,
    )
    serve(args.host, args.port, api_key=api_key, record_requests=args.record_requests)
    return 0
