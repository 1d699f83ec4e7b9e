"""Running a policy test suite: each case on a fresh simulated gateway (or, `Sender`-agnostic, a live one).

`run_suite` drives every case's steps through a `Sender`: the in-process `Simulator` on simulated
time (a month of budget takes as long as counting its requests), or `live.LiveSender` against a
running gateway. Outcomes are checked with `expectations.check`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tfy_gateway.policy.clock import SimClock, parse_duration
from tfy_gateway.policy.config import PolicyConfig
from tfy_gateway.policy.expectations import Failure, check
from tfy_gateway.policy.simulator import Simulator
from tfy_gateway.policy.suite import Case, RequestSpec, Step, Suite
from tfy_gateway.policy.traffic import SimOutcome, SimRequest, Usage, chat_body


class Sender(Protocol):
    """Where a case's requests go: `send` one, `advance` time (a live gateway cannot: it says why)."""

    clock: SimClock

    async def send(self, request: SimRequest) -> SimOutcome: ...

    def failing(self, targets: dict[str, int]) -> None: ...


@dataclass
class CaseResult:
    name: str
    failures: list[tuple[int, Failure]] = field(default_factory=list)  # (step number from 1, failure)
    requests: int = 0
    simulated_s: float = 0.0  # how much simulated time the case covered
    elapsed_s: float = 0.0
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and self.skipped is None


@dataclass
class SuiteResult:
    name: str
    mode: str  # "simulated" | the live gateway's URL
    cases: list[CaseResult] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.passed)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.cases if c.failures)

    @property
    def skipped(self) -> int:
        return sum(1 for c in self.cases if c.skipped is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.name,
            "mode": self.mode,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "elapsed_s": round(self.elapsed_s, 4),
            "cases": [
                {
                    "name": c.name,
                    "result": "skip" if c.skipped is not None else ("pass" if c.passed else "fail"),
                    "requests": c.requests,
                    "simulated_s": c.simulated_s,
                    "elapsed_s": round(c.elapsed_s, 4),
                    **({"skipped": c.skipped} if c.skipped is not None else {}),
                    "failures": [
                        {"step": step, "expected": f.expected, "actual": f.actual, "rule": f.rule}
                        for step, f in c.failures
                    ],
                }
                for c in self.cases
            ],
        }


SenderFactory = Callable[[Suite], Awaitable[Sender]]


def simulated(config: PolicyConfig) -> SenderFactory:
    """A fresh in-process gateway (no counters, no pins) per case, on the suite's simulated clock."""

    async def make(suite: Suite) -> Sender:
        return _Simulated(Simulator(config, SimClock(suite.start_at), seed=suite.seed))

    return make


class _Simulated:
    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.clock = simulator.clock

    async def send(self, request: SimRequest) -> SimOutcome:
        return await self.simulator.send(request)

    def failing(self, targets: dict[str, int]) -> None:
        self.simulator.failing = dict(targets)


async def run_suite(
    suite: Suite,
    new_sender: SenderFactory,
    *,
    mode: str = "simulated",
    skip: Callable[[Case], str | None] | None = None,
) -> SuiteResult:
    """Every case in order; `skip(case)` returns why a case cannot run in this mode (None: it can)."""
    started = time.perf_counter()
    result = SuiteResult(suite.name, mode)
    for case in suite.cases:
        reason = skip(case) if skip is not None else None
        if reason is not None:
            result.cases.append(CaseResult(case.name, skipped=reason))
            continue
        result.cases.append(await _run_case(suite, case, await new_sender(suite)))
    result.elapsed_s = time.perf_counter() - started
    return result


async def _run_case(suite: Suite, case: Case, sender: Sender) -> CaseResult:
    started = time.perf_counter()
    result = CaseResult(case.name)
    begin = sender.clock.now
    for number, step in enumerate(case.all_steps(), start=1):
        if step.advance is not None:
            sender.clock.advance(parse_duration(step.advance))
            continue
        outcomes = await _send(suite, step, sender)
        result.requests += len(outcomes)
        result.failures += [(number, failure) for failure in check(step.expect, outcomes)]
    result.simulated_s = sender.clock.now - begin
    result.elapsed_s = time.perf_counter() - started
    return result


async def _send(suite: Suite, step: Step, sender: Sender) -> list[SimOutcome]:
    assert step.send is not None
    spec = step.send
    caller = suite.caller(spec.caller)
    sender.failing(step.failing)
    body = request_body(spec)
    usage = Usage(spec.usage.prompt_tokens, spec.usage.completion_tokens) if spec.usage else None
    spacing = step.spacing_s
    outcomes = []
    for index in range(step.count):
        if index and spacing:
            sender.clock.advance(spacing)
        request = SimRequest(
            at=sender.clock.now,
            caller=caller.subject,
            model=spec.model,
            teams=tuple(caller.teams),
            metadata=spec.metadata,
            headers={k.lower(): v for k, v in spec.headers.items()},
            body=body,
            usage=usage,
            endpoint=spec.endpoint,
            admin=caller.admin,
            label=spec.caller,
        )
        outcomes.append(await sender.send(request))
    return outcomes


def request_body(spec: RequestSpec) -> dict[str, Any]:
    """The body a client would send: its text gives the input estimate (characters / 4)."""
    text = spec.prompt if spec.prompt is not None else "x" * (4 * spec.prompt_tokens if spec.prompt_tokens else 2)
    if spec.endpoint == "embeddings":
        return {"model": spec.model, "input": text}
    if spec.endpoint == "completions":
        body: dict[str, Any] = {"model": spec.model, "prompt": text}
        if spec.max_tokens is not None:
            body["max_tokens"] = spec.max_tokens
        return body
    return chat_body(spec.model, text, spec.max_tokens)
