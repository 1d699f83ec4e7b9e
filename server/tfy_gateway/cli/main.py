"""Entry point of the `tfy-gateway` command.

Subcommands live in sibling modules; each defines `register(subparsers)` which adds its parser and
sets `handler` (a callable taking the parsed namespace and returning an exit code). Discovery keeps
this file free of edits when a subcommand is added.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from tfy_gateway import __version__
from tfy_gateway import cli as cli_package

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfy-gateway",
        description="Configure, validate and test a TrueFoundry-style AI gateway.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"tfy-gateway {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(cli_package.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_") or module_info.name == "main":
            continue
        module = importlib.import_module(f"{cli_package.__name__}.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given in (["--version"], ["-V"]):
        # Answered before the subcommands are discovered: their modules import the gateway, the MCP
        # SDK and pydantic (about half a second), none of which a version check needs.
        print(f"tfy-gateway {__version__}")
        return EXIT_OK
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
