"""Entry point of the `tfy-gateway` command.

Subcommands live in sibling modules; each defines `register(subparsers)` which adds its parser and
sets `handler` (a callable taking the parsed namespace and returning an exit code). Discovery keeps
this file free of edits when a subcommand is added.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import pkgutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext

from tfy_gateway import __version__
from tfy_gateway import cli as cli_package

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


def _command_modules() -> list[str]:
    """Module names of the subcommands (`fake_provider` is the command `fake-provider`), not imported."""
    names = (m.name for m in pkgutil.iter_modules(cli_package.__path__))
    return sorted(name for name in names if not name.startswith("_") and name != "main")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with only the module `only` (the command being run): each
    subcommand module imports what it runs (the gateway, the MCP SDK...), which `validate` never needs."""
    parser = argparse.ArgumentParser(
        prog="tfy-gateway",
        description="Configure, validate and test a TrueFoundry-style AI gateway.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"tfy-gateway {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_modules():
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"{cli_package.__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def _command_module(given: Sequence[str]) -> str | None:
    """The module of the command in `given` when it names one (else None: every command is loaded, for
    the top-level help or the error that lists them)."""
    first = next((arg for arg in given if not arg.startswith("-")), None)
    name = first.replace("-", "_") if first else None
    return name if name in _command_modules() and first == name.replace("_", "-") else None


@contextmanager
def command_imports(command: str) -> Iterator[None]:
    """How a process started as a command (console script, `python -m`, a `serve` worker) imports the
    command's modules: uncollected (below), and with the code `dataclasses` generates for them kept
    from the command's last start (`_dataclass_code`)."""
    from tfy_gateway.cli._dataclass_code import kept_dataclass_code  # not for `--version`

    with _imports_uncollected(), kept_dataclass_code(command):
        yield


@contextmanager
def _imports_uncollected() -> Iterator[None]:
    """Keep the cyclic collector out of the command's imports when this process is the command.

    Importing `serve`'s modules creates ~55,000 long-lived objects (classes, functions, module dicts);
    the collector walked them about 150 times before the first request, ~10% of start-up CPU, and
    found nothing to free. Paused while they load, then frozen (`gc.freeze`): later collections
    skip them."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given in (["--version"], ["-V"]):
        # Answered before the subcommands are discovered: their modules import the gateway, the MCP
        # SDK and pydantic (about half a second), none of which a version check needs.
        print(f"tfy-gateway {__version__}")
        return EXIT_OK
    command = _command_module(given)
    # A caller that passes `argv` (tests, embedders) imports as it always does.
    with command_imports(command or "all") if argv is None else nullcontext():
        parser = build_parser(only=command)
    args = parser.parse_args(given)
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
