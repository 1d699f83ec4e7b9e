"""One output-format flag for every subcommand: `--format` (`--json` is kept as a hidden alias)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def add_format(
    parser: argparse.ArgumentParser, choices: Sequence[str] = ("text", "json"), default: str = "text"
) -> None:
    """`--format {choices}`; the older `--json` spelling still works as `--format json` (not listed)."""
    parser.add_argument("--format", choices=tuple(choices), default=default, help=f"output format (default: {default})")
    if "json" in choices:
        parser.add_argument("--json", dest="format", action="store_const", const="json", help=argparse.SUPPRESS)
