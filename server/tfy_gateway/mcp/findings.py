"""Validation findings as tool output, and validation against the live catalog."""

from __future__ import annotations

from typing import Any, Literal

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


NOT_ENFORCED = "not-enforced-locally"


def server_finding(found: dict[str, Any], manifest_type: str, name: str) -> FindingOut:
    """A finding the control plane sent (a JSON object), for a document identified by type and name."""
    severity = "error" if found.get("severity") == "error" else "warning"
    message = str(found.get("message") or found.get("code") or "the control plane sent a warning without a message")
    return FindingOut(
        severity=severity,
        code=str(found.get("code") or "control-plane"),
        message=f"{manifest_type} '{name}': {message}",
        path=str(found.get("path") or ""),
        hint=str(found["hint"]) if found.get("hint") else None,
    )


def summarise(findings: list[Finding], limit: int = 10) -> str:
    """The first errors, one per line, for a ToolError message."""
    errors = [f for f in findings if f.severity == "error"]
    lines = [f.format() for f in errors[:limit]]
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more")
    return "\n".join(lines)
