"""Validation findings as tool output, and validation against the live catalog."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tfy_gateway.manifests import Finding


class FindingOut(BaseModel):
    severity: Literal["error", "warning"]
    code: str
    message: str
    path: str = Field(default="", description="Where in the manifest, e.g. 'rules[0].load_balance_targets[1]'.")
    document: int | None = Field(default=None, description="1-based document number in the YAML text.")
    line: int | None = None
    column: int | None = None
    hint: str | None = Field(default=None, description="How to fix it.")

    @classmethod
    def of(cls, finding: Finding) -> FindingOut:
        return cls(
            severity=finding.severity,
            code=finding.code,
            message=finding.message,
            path=finding.path,
            document=finding.document,
            line=finding.line,
            column=finding.column,
            hint=finding.hint,
        )


def summarise(findings: list[Finding], limit: int = 10) -> str:
    """The first errors, one per line, for a ToolError message."""
    errors = [f for f in findings if f.severity == "error"]
    lines = [f.format() for f in errors[:limit]]
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more")
    return "\n".join(lines)
