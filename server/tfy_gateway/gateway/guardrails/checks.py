"""What running one guardrail on one request came to, and whether that blocks the request.

`enforcing_strategy`, as the platform defines it: `enforce` blocks on a violation and on an error;
`enforce_but_ignore_on_error` blocks on a violation only; `audit` never blocks (the result is
recorded, and an audit-mode mutate guardrail reports its rewrite without applying it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import orjson

Stage = Literal["input", "output"]
Operation = Literal["validate", "mutate"]
Strategy = Literal["enforce", "enforce_but_ignore_on_error", "audit"]
Result = Literal["pass", "fail", "mutate", "error", "skipped"]
"""pass: nothing found; fail: a violation; mutate: the content was rewritten; error: the guardrail
could not give an answer (timeout, unreachable, bad answer); skipped: not run by this gateway."""

RESULTS: tuple[Result, ...] = ("pass", "fail", "mutate", "error", "skipped")


@dataclass(slots=True, unsafe_hash=True)
class Check:
    """One guardrail's outcome on one request (what the request log, metrics and headers report).

    `message` explains a violation or an error; it never quotes the content that was found. Never
    changed once made, but not a frozen dataclass: a frozen one's `__init__` sets each field through
    `object.__setattr__`, and two checks a guarded request cost 0.7 µs each that way (hashing and
    equality are a frozen one's).
    """

    guardrail: str  # <group>/<integration>
    stage: Stage
    operation: Operation
    strategy: Strategy
    result: Result
    latency_ms: float
    message: str | None = None
    started: float = 0.0  # time.perf_counter() when the check began (for its trace span)

    @property
    def blocks(self) -> bool:
        if self.result == "fail":
            return self.strategy != "audit"
        if self.result == "error":
            return self.strategy == "enforce"
        return False

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "guardrail": self.guardrail,
            "stage": self.stage,
            "operation": self.operation,
            "mode": self.strategy,
            "result": self.result,
            "latency_ms": round(self.latency_ms, 3),
        }
        if self.message:
            data["message"] = self.message
        if self.blocks:
            data["blocked"] = True
        return data

    def text_around_latency(self) -> tuple[str, str]:
        """`to_dict()`'s JSON text before and after its latency value, so that a report whose outcome
        repeats is written by joining the two around the latency's own text (`latency_text`)."""
        head: dict[str, object] = {}
        tail: dict[str, object] = {}
        for name, value in self.to_dict().items():
            if name != "latency_ms":
                (tail if "latency_ms" in head else head)[name] = value
            else:
                head[name] = None
        before = orjson.dumps(head).decode().removesuffix("null}")
        after = orjson.dumps(tail).decode()
        return before, "}" if after == "{}" else "," + after[1:]


@dataclass(slots=True)
class GuardrailReport:
    """What the guardrails did to one request: the rules that selected them and every check so far
    (the list grows while the request runs; observers read it once the request has ended). Never
    changed once made, but not frozen: one is made per guarded request, and a frozen dataclass's
    `__init__` sets each field through `object.__setattr__`."""

    rules: tuple[str, ...]
    checks: list[Check]

    def applied(self) -> dict[str, object]:
        """For x-tfy-applied-configurations: rules, the guardrails run per stage, the flagged ones
        (failed or errored without blocking) and the ones that rewrote the content."""
        return applied_of(self.applied_key())

    def applied_key(self) -> AppliedGuardrails:
        """What `applied()` says, as plain hashable values (rules, input, output, flagged, mutated):
        the same for every request of one shape whose checks came out alike."""
        inputs: list[str] = []
        outputs: list[str] = []
        flagged: list[str] = []
        mutated: list[str] = []
        for check in self.checks:
            (inputs if check.stage == "input" else outputs).append(check.guardrail)
            result = check.result
            if result == "pass":
                continue
            if result in ("fail", "error") and not check.blocks:
                flagged.append(check.guardrail)
            elif result == "mutate" and check.strategy != "audit":
                mutated.append(check.guardrail)
        return self.rules, tuple(inputs), tuple(outputs), tuple(flagged), tuple(mutated)


def latency_text(latency_ms: float) -> str:
    """A check's `latency_ms` as `to_dict()` gives it, in JSON."""
    return orjson.dumps(round(latency_ms, 3)).decode()


AppliedGuardrails = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]
"""`GuardrailReport.applied_key()`: rules, then the guardrails run on the input and on the output,
flagged and mutated."""


def applied_of(key: AppliedGuardrails) -> dict[str, object]:
    """The `guardrails` member of x-tfy-applied-configurations (lists left out when empty)."""
    rules, inputs, outputs, flagged, mutated = key
    data: dict[str, object] = {"rules": list(rules)}
    for name, names in (("input", inputs), ("output", outputs), ("flagged", flagged), ("mutated", mutated)):
        if names:
            data[name] = list(names)
    return data
