"""Subjects as rules name them (`user:<email>`, `team:<name>`, `virtualaccount:<name>`, `*`), checked the
same way wherever a rule lists them (routing, V1 limits, guardrails)."""

from __future__ import annotations

from tfy_gateway.manifests.findings import Finding, finding
from tfy_gateway.manifests.schema_check import did_you_mean

Loc = tuple[str | int, ...]

SUBJECT_KINDS = ("user", "team", "virtualaccount")
SUBJECT_TYPOS = {
    "virtual-account": "virtualaccount",
    "serviceaccount": "virtualaccount",
    "users": "user",
    "teams": "team",
    "group": "team",
}


def subject_finding(subject: str, loc: Loc) -> Finding | None:
    """An `invalid-subject` error (with the likely fix) for a subject that is not well formed."""
    if subject == "*":
        return None
    kind, sep, name = subject.partition(":")
    if sep and kind in SUBJECT_KINDS and name:
        return None
    fix = SUBJECT_TYPOS.get(kind) or did_you_mean(kind, SUBJECT_KINDS)
    suggestion = f"; did you mean '{fix}:{name}'?" if sep and fix and name else ""
    return finding(
        "error",
        "invalid-subject",
        f"invalid subject '{subject}'{suggestion}",
        loc,
        hint='write "user:<email>", "team:<name>", "virtualaccount:<name>" or "*"',
    )
