"""Findings: what the validator says about a manifest, and where."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem in one manifest, located by path and, when known, by file position."""

    severity: Severity
    code: str
    message: str
    path: str = ""
    file: str | None = None
    document: int | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None
    loc: tuple[str | int, ...] = field(default=(), repr=False, compare=False)
    """The path as data keys and indices, used to find the line the value was written on."""

    def to_dict(self) -> dict[str, Any]:
        fields = ("severity", "code", "message", "path", "file", "document", "line", "column", "hint")
        return {name: getattr(self, name) for name in fields if getattr(self, name) is not None}

    def located(self, **where: Any) -> Finding:
        return replace(self, **where)

    def format(self) -> str:
        """`file:line:col: severity: message (path)`, the shape editors and CI logs understand."""
        where = self.file or "<manifest>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.severity}: {self.message}"
        if self.path:
            text += f" ({self.path})"
        if self.hint:
            text += f" [hint: {self.hint}]"
        return text


def format_path(loc: tuple[str | int, ...]) -> str:
    """`("rules", 1, "when")` -> `rules[1].when`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def finding(
    severity: Severity, code: str, message: str, loc: tuple[str | int, ...] = (), hint: str | None = None
) -> Finding:
    return Finding(severity, code, message, path=format_path(loc), hint=hint, loc=loc)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(finding.severity == "error" for finding in findings)


def errors_only(findings: Iterable[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.severity == "error"]


class ManifestLoadError(Exception):
    """A file could not be read or parsed at all (broken YAML, not a mapping...)."""

    def __init__(self, finding: Finding):
        super().__init__(finding.format())
        self.finding = finding


class ManifestError(Exception):
    """A manifest is invalid; carries every error finding."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        super().__init__("; ".join(f.message + (f" ({f.path})" if f.path else "") for f in findings))
