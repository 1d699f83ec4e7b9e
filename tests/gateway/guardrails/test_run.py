"""GuardrailRun: the platform's order (validations together, mutations by priority), its modes, the
timeout, and input validation alongside the model call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tfy_gateway.gateway.guardrails import GuardrailBlocked, GuardrailRun, RequestView
from tfy_gateway.gateway.guardrails.compiled import Selection
from tfy_gateway.gateway.guardrails.integration import (
    PASS,
    Caller,
    GuardrailCall,
    GuardrailUnavailable,
    LocalGuardrail,
    NotRun,
    RemoteGuardrail,
    Spec,
    Verdict,
)
from tfy_gateway.gateway.providers import MemoryTransport
from tfy_gateway.gateway.providers.transport import HttpResponse

BODY = {"model": "m/x", "messages": [{"role": "user", "content": "hello"}]}
CALLER = Caller("user:a@example.com", "user", "a@example.com")


def spec(ref: str, operation: str = "validate", strategy: str = "enforce", priority: int = 1) -> Spec:
    return Spec(ref, "test", operation, strategy, priority)  # type: ignore[arg-type]


class Appends(LocalGuardrail):
    """Mutate: appends its name to the user message (so the order is visible)."""

    def check_now(self, call: GuardrailCall) -> Verdict:
        body = dict(call.body)
        content = body["messages"][0]["content"] + "+" + self.spec.ref
        return Verdict(rewritten={**body, "messages": [{"role": "user", "content": content}]})


class Fails(LocalGuardrail):
    def check_now(self, call: GuardrailCall) -> Verdict:
        return Verdict(f"{self.spec.ref} found something")


class Service(RemoteGuardrail):
    """A remote guardrail whose answer the test controls: waits for `go`, then passes or fails."""

    def __init__(self, spec: Spec, *, fail: bool = False, error: bool = False) -> None:
        super().__init__(spec)
        self.go = asyncio.Event()
        self.started = asyncio.Event()
        self.fail, self.error = fail, error
        self.seen: list[Any] = []

    async def check(self, call: GuardrailCall) -> Verdict:
        self.seen.append(call.body)
        self.started.set()
        await self.go.wait()
        if self.error:
            raise GuardrailUnavailable("service down")
        return Verdict("service says no") if self.fail else PASS


def run(inputs: list[Any], outputs: list[Any] = (), *, parallel: bool = True, timeout_s: float = 30) -> GuardrailRun:  # type: ignore[assignment]
    selection = Selection(tuple(inputs), tuple(outputs), (), parallel, timeout_s)
    transport = MemoryTransport(lambda request: HttpResponse(200, {}, b"{}"))
    return GuardrailRun(selection, RequestView("m/x", CALLER, {}, transport))


async def test_mutations_run_by_priority_each_on_the_previous_result() -> None:
    guard = run([Appends(spec("g/second", "mutate", priority=2)), Appends(spec("g/first", "mutate", priority=1))])
    rewritten = await guard.check_input(dict(BODY))
    assert rewritten is not None and rewritten["messages"][0]["content"] == "hello+g/first+g/second"
    assert [c.result for c in guard.report.checks] == ["mutate", "mutate"]


async def test_validations_see_the_request_as_sent_and_a_local_failure_blocks_before_any_call() -> None:
    service = Service(spec("g/remote"))
    guard = run([Appends(spec("g/redact", "mutate")), Fails(spec("g/local")), service])
    with pytest.raises(GuardrailBlocked) as blocked:
        await guard.check_input(dict(BODY))
    assert blocked.value.status == 400 and blocked.value.origin == "guardrails_input"
    assert blocked.value.extra["guardrail_checks"]["input_guardrails"] == [
        {
            "guardrail_integration": "g/local",
            "result": "failed",
            "data": {"verdict": False, "explanation": "g/local found something"},
        }
    ]
    guard.close()


async def test_input_validation_checks_the_request_as_sent_while_mutation_rewrites_it() -> None:
    service = Service(spec("g/remote"))
    guard = run([Appends(spec("g/redact", "mutate")), service])
    rewritten = await guard.check_input(dict(BODY))
    assert rewritten is not None and rewritten["messages"][0]["content"] == "hello+g/redact"

    async def model_call() -> str:
        await service.started.wait()
        service.go.set()
        return "answer"

    assert await guard.alongside(model_call()) == "answer"
    assert service.seen == [BODY]
    assert [(c.guardrail, c.result) for c in guard.report.checks] == [("g/redact", "mutate"), ("g/remote", "pass")]


@pytest.mark.parametrize(
    ("strategy", "fail", "error", "blocks"),
    [
        ("enforce", True, False, True),
        ("enforce", False, True, True),
        ("enforce_but_ignore_on_error", True, False, True),
        ("enforce_but_ignore_on_error", False, True, False),
        ("audit", True, False, False),
        ("audit", False, True, False),
    ],
)
async def test_modes(strategy: str, fail: bool, error: bool, blocks: bool) -> None:
    service = Service(spec("g/s", strategy=strategy), fail=fail, error=error)
    service.go.set()
    guard = run([service], parallel=False)
    if blocks:
        with pytest.raises(GuardrailBlocked):
            await guard.check_input(dict(BODY))
    else:
        assert await guard.check_input(dict(BODY)) is None
    (check,) = guard.report.checks
    assert check.result == ("error" if error else "fail") and check.blocks is blocks


async def test_audit_mutations_are_reported_not_applied() -> None:
    guard = run([Appends(spec("g/a", "mutate", strategy="audit"))])
    assert await guard.check_input(dict(BODY)) is None
    assert guard.report.checks[0].result == "mutate" and "mutated" not in guard.report.applied()


async def test_a_service_that_does_not_answer_in_time_is_an_error() -> None:
    service = Service(spec("g/slow"))  # never released
    guard = run([service], parallel=False, timeout_s=0.05)
    with pytest.raises(GuardrailBlocked, match="no answer within the guardrail timeout"):
        await guard.check_input(dict(BODY))


async def test_a_validation_block_after_the_model_answered_discards_the_answer() -> None:
    service = Service(spec("g/remote"), fail=True)
    guard = run([service])
    assert await guard.check_input(dict(BODY)) is None  # nothing blocked yet: the model call may start
    called = asyncio.Event()

    async def model_call() -> str:
        called.set()
        await service.started.wait()
        service.go.set()  # the service answers only once the model call is under way
        return "answer"

    with pytest.raises(GuardrailBlocked, match="service says no"):
        await guard.alongside(model_call())
    assert called.is_set()


async def test_a_validation_block_while_the_model_call_runs_cancels_it() -> None:
    service = Service(spec("g/remote"), fail=True)
    guard = run([service])
    await guard.check_input(dict(BODY))
    cancelled = asyncio.Event()

    async def model_call() -> str:
        try:
            service.go.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    with pytest.raises(GuardrailBlocked):
        await guard.alongside(model_call())
    assert cancelled.is_set()


async def test_without_parallel_execution_the_model_is_called_only_after_validation() -> None:
    service = Service(spec("g/remote"), fail=True)
    service.go.set()
    guard = run([service], parallel=False)
    with pytest.raises(GuardrailBlocked):
        await guard.check_input(dict(BODY))  # raised before `alongside` could start any call


async def test_guardrails_this_gateway_does_not_run_are_reported_skipped_and_never_block() -> None:
    guard = run([NotRun(spec("g/patronus"))])
    assert await guard.check_input(dict(BODY)) is None
    (check,) = guard.report.checks
    assert check.result == "skipped" and not check.blocks


async def test_output_mutation_and_validation() -> None:
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}

    class Shout(LocalGuardrail):
        def check_now(self, call: GuardrailCall) -> Verdict:
            assert call.response is not None
            text = call.response["choices"][0]["message"]["content"]
            return Verdict(
                rewritten={"choices": [{"index": 0, "message": {"role": "assistant", "content": text.upper()}}]}
            )

    guard = run([], [Shout(spec("g/shout", "mutate"))])
    assert guard.checks_output
    rewritten = await guard.check_output(BODY, answer)
    assert rewritten is not None and rewritten["choices"][0]["message"]["content"] == "HI"
    blocking = run([], [Fails(spec("g/no"))])
    with pytest.raises(GuardrailBlocked) as blocked:
        await blocking.check_output(BODY, answer)
    assert blocked.value.origin == "guardrails_output" and "Output Guardrail checks failed" in blocked.value.message
