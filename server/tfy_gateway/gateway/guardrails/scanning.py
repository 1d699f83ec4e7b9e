"""Guardrails that scan text with compiled patterns: find (validate) or replace (mutate) what they match.

A `Scanner` finds labelled spans in one text; `ScanningGuardrail` runs it over every text of the
request (input) or the answer (output): in validate mode any finding is a violation, reported by
label and count (never the text found); in mutate mode each finding is replaced and the rewritten
body goes on. Scanners that also refuse what they cannot rewrite (SQL) say so in `refusals`.

Validation remembers what it found in each text it scanned (`ScanMemo`, by the text's digest): a
conversation sends its whole history with every turn, and most requests of an application repeat the
same system prompt, so only the texts not seen lately are scanned. Findings depend on the text alone
(and the scanner, which is immutable), so a remembered answer is exactly the scan's.
"""

from __future__ import annotations

import hashlib
import secrets
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


MEMO_TEXTS = 16_384
"""How many texts one guardrail remembers findings for (a digest and the labels each, ~200 bytes: ~3 MB
at most); past it the oldest are forgotten."""


DIGEST_KEY = secrets.token_bytes(16)
"""The key of the texts' digests, the process's own (one for every guardrail: a text is digested once
per request, whichever guardrails scan it)."""


def digest_of(text: str) -> bytes:
    """The keyed BLAKE2b of `text` that `ScanMemo` remembers findings by."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16, key=DIGEST_KEY).digest()


class ScanMemo:
    """The labels a scanner found in recently scanned texts, oldest first (a dict keeps insertion
    order, so forgetting the oldest is popping its first key).

    Keyed by a digest of the text (`digest_of`), never the text: a guardrail looks for secrets and
    personal data, and what it scanned must not outlive the request in the gateway's memory. A keyed
    BLAKE2b with a key of the process's own makes a collision (a text answered with another's
    findings) out of reach for a sender who would craft one."""

    __slots__ = ("_labels", "_limit")

    def __init__(self, limit: int = MEMO_TEXTS) -> None:
        self._labels: dict[bytes, tuple[str, ...]] = {}
        self._limit = limit

    def labels(self, scanner: Scanner, text: str, digest: bytes) -> tuple[str, ...]:
        """What `scanner` finds in `text`, whose `digest_of` is `digest`."""
        memo = self._labels
        labels = memo.get(digest)
        if labels is not None:
            return labels
        labels = tuple(item.label for item in scanner.findings(text))
        if len(memo) >= self._limit:
            del memo[next(iter(memo))]
        memo[digest] = labels
        return labels


class ScanningGuardrail(LocalGuardrail):
    def __init__(self, spec: Spec, scanner: Scanner, what: str) -> None:
        super().__init__(spec)
        self.scanner = scanner
        self.what = what
        self.memo = ScanMemo()

    def check_now(self, call: GuardrailCall) -> Verdict:
        source = _source(call)
        if source is None:
            return PASS
        if self.spec.operation == "mutate":
            found: Counter[str] = Counter()
            rewritten = content.rewrite(source, call.stage, self.scanner.redact)
            for text in content.texts(rewritten or source, call.stage):
                found.update(item.label for item in self.scanner.refusals(text))
            return Verdict(describe(found, self.what) if found else None, rewritten)
        labels: list[str] = []
        for text, digest in texts_of(call, source):
            labels += self.memo.labels(self.scanner, text, digest)
        return Verdict(describe(Counter(labels), self.what)) if labels else PASS


def texts_of(call: GuardrailCall, source: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The texts `call`'s stage inspects with their digests, made once per call whichever guardrail
    asks first."""
    memo = call.texts_memo
    if not memo:
        memo.append([(text, digest_of(text)) for text in content.texts(source, call.stage)])
    return memo[0]


def _source(call: GuardrailCall) -> Mapping[str, Any] | None:
    return call.body if call.stage == "input" else call.response
