"""`tfy-gateway demo`: the offline, scripted assistant session that `make demo` runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the offline demo: a scripted assistant session through the MCP server and a local gateway",
        description=(
            "Start a fake LLM provider and a local gateway, then drive the MCP server (a subprocess over "
            "stdio, through a real MCP client) through the whole workflow: status, onboard provider "
            "accounts, list models, clarify an intent, render, validate, plan (diff), apply, smoke-test "
            "the new route, explain, usage. Needs no network. Exit 0 when every step passed, 1 otherwise. "
            "Everything is stopped and removed at the end unless --keep is given."
        ),
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the gateway and fake provider running and print how to use them (openai SDK, MCP server)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the gateway keeps its database, admin-token file and logs (default: a temporary directory, "
        "removed at the end unless --keep)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tfy_gateway.demo import run_demo

    return run_demo(keep=args.keep, data_dir=args.data_dir)
