"""Readable demo output: headings, who says what, the essential result of each tool call.

Colour only on a terminal (and never with NO_COLOR set), so captured output and logs stay plain.
Every line passes through a redactor first: the admin token must never be printed, whatever a
tool or an error message might echo.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterable, Sequence
from typing import TextIO

RESET = "\033[0m"
STYLES = {"bold": "\033[1m", "dim": "\033[2m", "green": "\033[32m", "red": "\033[31m", "cyan": "\033[36m"}
WIDTH = 78


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


class Printer:
    """Writes the demo's transcript to `stream`, hiding every string in `secrets`."""

    def __init__(self, stream: TextIO | None = None, *, colour: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.colour = use_colour(self.stream) if colour is None else colour
        self._secrets: list[str] = []

    def hide(self, secret: str) -> None:
        if secret:
            self._secrets.append(secret)

    def style(self, text: str, *names: str) -> str:
        if not self.colour or not names:
            return text
        return "".join(STYLES[n] for n in names) + text + RESET

    def line(self, text: str = "") -> None:
        for secret in self._secrets:
            text = text.replace(secret, "[hidden]")
        self.stream.write(text + "\n")
        self.stream.flush()

    # --- the transcript's building blocks --------------------------------------------------------

    def title(self, text: str) -> None:
        self.line(self.style(text, "bold"))

    def heading(self, number: int, total: int, title: str) -> None:
        label = f"[{number}/{total}] {title} "
        self.line()
        self.line(self.style(label + "-" * max(WIDTH - len(label), 3), "bold", "cyan"))

    def user(self, text: str) -> None:
        self._said("user", text)

    def assistant(self, text: str) -> None:
        self._said("assistant", text)

    def _said(self, who: str, text: str) -> None:
        rows = textwrap.wrap(text, WIDTH - 13, break_on_hyphens=False) or [""]
        self.line(f"  {self.style(who.ljust(9), 'bold')}  {rows[0]}")
        for row in rows[1:]:
            self.line(" " * 13 + row)

    def call(self, tool: str, summary: str = "") -> None:
        rows = textwrap.wrap(f"-> {tool}({summary})", WIDTH - 2, subsequent_indent="     ", break_on_hyphens=False)
        for row in rows:
            self.line(self.style("  " + row, "dim"))

    def fact(self, label: str, value: object) -> None:
        self.line(f"     {label:<15} {value}")

    def text(self, text: str) -> None:
        self.line(f"     {text}")

    def block(self, text: str, *, prefix: str = "     | ") -> None:
        for row in text.rstrip("\n").splitlines():
            self.line(self.style(prefix, "dim") + row)

    def diff(self, text: str) -> None:
        for row in text.rstrip("\n").splitlines():
            colour = "green" if row.startswith("+") else "red" if row.startswith("-") else "dim"
            if row.startswith(("+++", "---")):
                colour = "bold"
            self.line("     " + self.style(row, colour))

    def ok(self, text: str) -> None:
        self.line(f"  {self.style('ok', 'green', 'bold')}  {text}")

    def failed(self, text: str) -> None:
        self.line(f"  {self.style('FAILED', 'red', 'bold')}  {text}")

    def table(self, header: Sequence[str], rows: Iterable[Sequence[object]], *, indent: int = 5) -> None:
        cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        pad = " " * indent
        for index, row in enumerate(cells):
            text = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
            self.line(pad + (self.style(text, "bold") if index == 0 else text))
