"""`ScanningGuardrail` validation remembers each text's findings: a repeated text is not scanned again,
and what it answers is exactly what scanning it answers."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from tfy_gateway.gateway.guardrails.integration import Caller, GuardrailCall, Spec
from tfy_gateway.gateway.guardrails.pii import PiiScanner
from tfy_gateway.gateway.guardrails.scanning import (
    Finding,
    ScanMemo,
    Scanner,
    ScanningGuardrail,
    describe,
    digest_of,
    texts_of,
)
from tfy_gateway.gateway.providers import MemoryTransport
from tfy_gateway.gateway.providers.transport import HttpResponse

CALLER = Caller("user:a@example.com", "user", "a@example.com")
TRANSPORT = MemoryTransport(lambda request: HttpResponse(200, {}, b"{}"))
SPEC = Spec("g/x", "x", "validate", "enforce")  # type: ignore[arg-type]
PII = "card 4111 1111 1111 1111, mail jane.doe@example.com"


class CountingScanner(Scanner):
    """Finds every `x`; counts the texts it was asked to scan."""

    def __init__(self) -> None:
        self.scanned: list[str] = []

    def findings(self, text: str) -> list[Finding]:
        self.scanned.append(text)
        return [Finding("X", index, index + 1) for index, char in enumerate(text) if char == "x"]


def call(*texts: str) -> GuardrailCall:
    body: dict[str, Any] = {"model": "m/x", "messages": [{"role": "user", "content": text} for text in texts]}
    return GuardrailCall("input", body, CALLER, {}, "m/x", TRANSPORT, 5.0)


def test_a_repeated_text_is_scanned_once_and_found_the_same() -> None:
    scanner = CountingScanner()
    guardrail = ScanningGuardrail(SPEC, scanner, "patterns")
    first = guardrail.check_now(call("system: x marks", "hello"))
    second = guardrail.check_now(call("system: x marks", "a new turn with xx"))
    assert first.violation == "patterns found: X (1)"
    assert second.violation == "patterns found: X (3)"
    assert scanner.scanned == ["system: x marks", "hello", "a new turn with xx"]


def test_remembered_findings_are_what_a_scan_finds() -> None:
    scanner = PiiScanner(("*",))
    remembering = ScanningGuardrail(SPEC, scanner, "PII")
    for _ in range(3):
        verdict = remembering.check_now(call(PII, "clean text"))
        assert verdict.violation == describe(Counter(f.label for f in scanner.findings(PII)), "PII")
        assert "CreditCardNumber (1)" in verdict.violation
    assert remembering.check_now(call("clean text")).violation is None


def test_the_memo_forgets_the_oldest_texts_past_its_size() -> None:
    scanner = CountingScanner()
    memo = ScanMemo(limit=2)
    for text in ("aaaa", "bbbb", "cccc"):  # a third text: "aaaa" is forgotten
        memo.labels(scanner, text, digest_of(text))
    memo.labels(scanner, "cccc", digest_of("cccc"))
    memo.labels(scanner, "aaaa", digest_of("aaaa"))
    assert scanner.scanned == ["aaaa", "bbbb", "cccc", "aaaa"]


def test_the_memo_keeps_no_text_it_scanned() -> None:
    memo = ScanMemo()
    memo.labels(PiiScanner(("*",)), PII, digest_of(PII))
    held = [value for name in ScanMemo.__slots__ for value in _flattened(getattr(memo, name))]
    assert held and not any(isinstance(value, str) and ("4111" in value or "jane" in value) for value in held)
    assert not any(isinstance(value, bytes) and b"4111" in value for value in held)


def _flattened(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [item for key, val in value.items() for item in (*_flattened(key), *_flattened(val))]
    if isinstance(value, (tuple, list)):
        return [item for val in value for item in _flattened(val)]
    return [value]


def test_texts_are_extracted_once_per_call_and_again_for_a_rewritten_body() -> None:
    first = call("one", "two")
    texts = texts_of(first, first.body)
    assert texts == [("one", digest_of("one")), ("two", digest_of("two"))]
    assert texts_of(first, first.body) is texts  # every guardrail of the call shares texts and digests
    rewritten = replace(first, body={"messages": [{"role": "user", "content": "three"}]})
    assert texts_of(rewritten, rewritten.body) == [("three", digest_of("three"))]
