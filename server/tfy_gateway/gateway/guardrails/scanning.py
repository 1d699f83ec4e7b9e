"""Guardrails that scan text with compiled patterns: find (validate) or replace (mutate) what they match.

A `Scanner` finds labelled spans in one text; `ScanningGuardrail` runs it over every text of the
request (input) or the answer (output): in validate mode any finding is a violation, reported by
label and count (never the text found); in mutate mode each finding is replaced and the rewritten
body goes on. Scanners that also refuse what they cannot rewrite (SQL) say so in `refusals`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tfy_gateway.gateway.guardrails import content
from tfy_gateway.gateway.guardrails.integration import PASS, GuardrailCall, LocalGuardrail, Spec, Verdict


@dataclass(frozen=True, slots=True)
class Finding:
    label: str  # what was found, e.g. CreditCardNumber (never the matched text)
    start: int
    end: int


class Scanner:
    """Finds spans in a text; `redact` replaces them (later findings overlapping earlier ones are skipped)."""

    def findings(self, text: str) -> list[Finding]:
        raise NotImplementedError

    def replacement(self, finding: Finding) -> str:
        return "[REDACTED]"

    def redact(self, text: str) -> str:
        found = self.findings(text)
        if not found:
            return text
        parts = []
        position = 0
        for item in sorted(found, key=lambda f: (f.start, -f.end)):
            if item.start < position:
                continue
            parts.append(text[position : item.start])
            parts.append(self.replacement(item))
            position = item.end
        parts.append(text[position:])
        return "".join(parts)

    def refusals(self, text: str) -> list[Finding]:
        """What blocks even in mutate mode (content that cannot be made safe by rewriting)."""
        return []


def describe(found: Counter[str], what: str) -> str:
    listed = ", ".join(f"{label} ({count})" for label, count in sorted(found.items()))
    return f"{what} found: {listed}"


class ScanningGuardrail(LocalGuardrail):
    def __init__(self, spec: Spec, scanner: Scanner, what: str) -> None:
        super().__init__(spec)
        self.scanner = scanner
        self.what = what

    def check_now(self, call: GuardrailCall) -> Verdict:
        source = _source(call)
        if source is None:
            return PASS
        found: Counter[str] = Counter()
        if self.spec.operation == "mutate":
            rewritten = content.rewrite(source, call.stage, self.scanner.redact)
            for text in content.texts(rewritten or source, call.stage):
                found.update(item.label for item in self.scanner.refusals(text))
            return Verdict(describe(found, self.what) if found else None, rewritten)
        for text in content.texts(source, call.stage):
            found.update(item.label for item in self.scanner.findings(text))
        return Verdict(describe(found, self.what)) if found else PASS


def _source(call: GuardrailCall) -> Mapping[str, Any] | None:
    return call.body if call.stage == "input" else call.response
