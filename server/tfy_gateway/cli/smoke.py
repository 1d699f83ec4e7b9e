"""`tfy-gateway smoke`: send one real request through the gateway and show what happened.

Uses `tfy_gateway.platform.smoke_test` (the same code as the MCP tool `gateway_smoke_test`) with
TFY_BASE_URL and TFY_API_KEY: the status, the model that answered, the rules that applied, latency,
time to first token when streaming, tokens, cost and the start of the reply. Exit 0 on a 2xx
answer, 1 otherwise (including no answer at all), 2 on a usage error or missing environment.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import anyio

from tfy_gateway.cli._control_plane import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, key_value, settings_from_env
from tfy_gateway.cli._output import add_format
from tfy_gateway.platform import ControlPlaneError, ControlPlaneSettings, SmokeOutcome, smoke_test
from tfy_gateway.platform.smoke import DEFAULT_MAX_TOKENS, DEFAULT_PROMPT, KINDS, MAX_TOKENS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "smoke",
        help="send one real request through the gateway and report status, routing, latency, tokens, cost",
        description=(
            "Send one chat completion (optionally streamed) or embedding request through the gateway's "
            "data plane (TFY_BASE_URL/api/llm with TFY_API_KEY) and print the status, the model that "
            "answered (x-tfy-resolved-model), the rules that applied (x-tfy-applied-configurations), "
            "latency, time to first token, tokens, cost and the start of the reply. It counts against "
            "rate limits and budgets and may cost money with a real provider. Exit 0 on a 2xx answer, "
            "1 otherwise, 2 on a usage error."
        ),
    )
    parser.add_argument("--model", required=True, help="the model to request, e.g. openai-main/gpt-4o")
    parser.add_argument("--kind", choices=KINDS, default="chat", help="chat completion or embedding (default: chat)")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT, help=f"the text to send (default: {DEFAULT_PROMPT!r})")
    parser.add_argument(
        "--stream", action="store_true", help="stream the chat completion and measure time to first token"
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help=f"output token cap, 1-{MAX_TOKENS} (default: {DEFAULT_MAX_TOKENS})",
    )
    parser.add_argument(
        "--metadata",
        action="extend",
        nargs="+",
        default=[],
        type=key_value,
        metavar="KEY=VALUE",
        help="x-tfy-metadata entries, to exercise metadata rules (e.g. --metadata env=dev team=ml)",
    )
    add_format(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.max_tokens <= MAX_TOKENS:
        print(f"error: --max-tokens must be between 1 and {MAX_TOKENS}, got {args.max_tokens}", file=sys.stderr)
        return EXIT_USAGE
    if not args.prompt.strip() or not args.model.strip():
        print("error: --model and --prompt must not be empty", file=sys.stderr)
        return EXIT_USAGE
    metadata = dict(args.metadata)
    if args.stream and args.kind != "chat":
        print("warning: --stream applies to chat only; the embedding request is not streamed", file=sys.stderr)
    settings = settings_from_env()
    if settings is None:
        return EXIT_USAGE
    try:
        outcome = anyio.run(_smoke, settings, args, metadata)
    except ControlPlaneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if args.format == "json":
        print(json.dumps(outcome.to_dict(), indent=2))
    else:
        print(render(outcome), end="")
    if not outcome.ok:
        print(f"error: the smoke request failed with status {outcome.status} (see above)", file=sys.stderr)
        if outcome.status == 401:
            print(
                "hint: check TFY_API_KEY (a local gateway's admin token is in <data-dir>/admin-token)", file=sys.stderr
            )
    return EXIT_OK if outcome.ok else EXIT_FAILURE


async def _smoke(settings: ControlPlaneSettings, args: argparse.Namespace, metadata: dict[str, str]) -> SmokeOutcome:
    return await smoke_test(
        settings,
        model=args.model,
        kind=args.kind,
        prompt=args.prompt,
        stream=args.stream,
        max_tokens=args.max_tokens,
        metadata=metadata or None,
    )


def render(outcome: SmokeOutcome) -> str:
    """The outcome as aligned `label: value` lines (labels omitted when the gateway said nothing)."""
    verdict = "ok" if outcome.ok else "FAILED"
    rows: list[tuple[str, str | None]] = [
        ("status", f"{outcome.status} {verdict}"),
        ("model", f"{outcome.requested_model} -> {outcome.resolved_model or '(not resolved)'}"),
        ("applied", _applied(outcome.applied_configurations)),
        ("latency", f"{outcome.latency_ms:.1f} ms" + (" (streamed)" if outcome.stream else "")),
        ("ttft", f"{outcome.ttft_ms:.1f} ms" if outcome.ttft_ms is not None else None),
        ("timing", outcome.server_timing),
        ("tokens", _tokens(outcome)),
        ("cost", f"${outcome.cost:.6f}" if outcome.cost is not None else None),
        ("request id", outcome.request_id),
        ("reply", outcome.output_preview),
        ("error", outcome.error),
    ]
    shown = [(label, value) for label, value in rows if value is not None]
    width = max(len(label) for label, _ in shown) + 1
    return "".join(f"{label + ':':<{width}} {value}\n" for label, value in shown)


def _tokens(outcome: SmokeOutcome) -> str | None:
    usage = outcome.usage
    if usage is None:
        return None
    prompt, completion = usage.prompt_tokens, usage.completion_tokens
    text = f"{'?' if prompt is None else prompt} prompt + {'?' if completion is None else completion} completion"
    return text if usage.total_tokens is None else f"{text} = {usage.total_tokens}"


def _applied(applied: Any) -> str | None:
    """x-tfy-applied-configurations in words: the routing rule and target, retries and fallbacks."""
    if applied is None:
        return None
    if not isinstance(applied, dict):
        return str(applied)
    if not applied:
        return "none (no routing rule matched; the model was called directly)"
    parts: list[str] = []
    routing = applied.get("load_balancing")
    if isinstance(routing, dict):
        if routing.get("virtual_model"):
            parts.append(
                f"virtual model {routing.get('config')} ({routing.get('strategy')}) -> {routing.get('target')}"
            )
        else:
            parts.append(
                f"routing rule '{routing.get('rule_id')}' of '{routing.get('config')}' "
                f"({routing.get('strategy')}) -> {routing.get('target')}"
            )
    parts += [f"{key} {json.dumps(value)}" for key, value in applied.items() if key != "load_balancing"]
    return "; ".join(parts)
