"""`GuardrailRun`: one request's guardrails, in the order the platform describes.

Input (guardrails-overview): validation starts first, on the request as sent; mutation runs to
completion, one guardrail after another by `priority` (lower first; each sees the previous one's
rewrite); then the model call starts "while input validation continues in parallel". Validate
guardrails that only compute (regex, PII, ...) finish inline, so their block comes before any
upstream call; those behind a service race the model call (`alongside`), and a block there discards
the upstream answer. With `enable_parallel_execution: false` the model is called only once every
input check has passed.

Output: validate guardrails run concurrently on the answer as received, mutate guardrails one after
another by priority; the answer goes out once all of them have passed (rewritten, if a mutate
guardrail changed it).

Each guardrail call is bounded by the tenant's timeout; a timeout, an unreachable service or an
unusable answer is an `error`, which blocks only under `enforce`. `audit` never blocks and never
rewrites. Every outcome is kept in `checks` for the request log, /metrics and the response headers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from tfy_gateway.gateway.guardrails.blocked import GuardrailBlocked
from tfy_gateway.gateway.guardrails.checks import Check, GuardrailReport, Result, Stage
from tfy_gateway.gateway.guardrails.compiled import Selection
from tfy_gateway.gateway.guardrails.integration import (
    PASS,
    Caller,
    Guardrail,
    GuardrailCall,
    GuardrailUnavailable,
    LocalGuardrail,
    Verdict,
)
from tfy_gateway.gateway.providers.transport import Transport

logger = logging.getLogger(__name__)

T = TypeVar("T")
Outcome = tuple[Check, Verdict | None]


@dataclass(frozen=True, slots=True)
class RequestView:
    """What the guardrails know of the request besides its body."""

    model: str
    caller: Caller
    metadata: Mapping[str, str]
    transport: Transport


class GuardrailRun:
    """Lives for one request; `checks` grows as guardrails finish."""

    __slots__ = ("_pending", "checks", "report", "selection", "view")

    def __init__(self, selection: Selection, view: RequestView) -> None:
        self.selection = selection
        self.view = view
        self.checks: list[Check] = []
        self.report = GuardrailReport(selection.rule_ids, self.checks)
        self._pending: asyncio.Future[None] | None = None

    @property
    def checks_output(self) -> bool:
        return bool(self.selection.output)

    def _call(self, stage: Stage, body: Mapping[str, Any], response: Mapping[str, Any] | None = None) -> GuardrailCall:
        view = self.view
        return GuardrailCall(
            stage, body, view.caller, view.metadata, view.model, view.transport, self.selection.timeout_s, response
        )

    # --- input -----------------------------------------------------------------------------------

    async def check_input(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Run input mutation and start input validation; the rewritten body (None: unchanged).

        Raises GuardrailBlocked when a check that is already done blocks; validations still running
        are settled by `alongside` (or here, without parallel execution)."""
        if not self.selection.input:
            return None
        original = self._call("input", body)
        plan = self.selection.input_plan
        checks = self.checks
        for guardrail in plan.local:
            checks.append(_run_local(guardrail, original)[0])
        if plan.remote:
            self._pending = asyncio.ensure_future(self._validate(plan.remote, original))
        rewritten = await self._mutate(plan.mutators, original) if plan.mutators else None
        self._raise_if_blocked("input")
        if self._pending is not None and not self.selection.parallel:
            await self._pending
            self._raise_if_blocked("input")
        return rewritten

    async def alongside(self, work: Awaitable[T]) -> T:
        """`work` (the model call) while input validation finishes; a block cancels or discards it."""
        pending = self._pending
        if pending is None:
            return await work
        task = asyncio.ensure_future(work)
        racing: set[asyncio.Future[Any]] = {task, pending}
        try:
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            if pending.done():
                self._raise_if_blocked("input")
            result = await task
            await pending
            self._raise_if_blocked("input")
            return result
        finally:
            for future in (pending, task):
                if not future.done():
                    future.cancel()
            if not task.done():
                await asyncio.wait({task})

    def close(self) -> None:
        """Stop validation still running (the request ended another way)."""
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()

    # --- output ----------------------------------------------------------------------------------

    async def check_output(self, body: Mapping[str, Any], answer: dict[str, Any]) -> dict[str, Any] | None:
        """Run the output guardrails on `answer`: the rewritten answer (None: unchanged), or raise."""
        if not self.selection.output:
            return None
        original = self._call("output", body, answer)
        plan = self.selection.output_plan
        self.checks += (_run_local(g, original)[0] for g in plan.local)
        pending = asyncio.ensure_future(self._validate(plan.remote, original)) if plan.remote else None
        try:
            rewritten = await self._mutate(plan.mutators, original)
            if pending is not None:
                await pending
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
        self._raise_if_blocked("output")
        return rewritten

    # --- shared ----------------------------------------------------------------------------------

    async def _validate(self, guardrails: Sequence[Guardrail], call: GuardrailCall) -> None:
        outcomes = await asyncio.gather(*(_run_remote(g, call) for g in guardrails))
        self.checks += (check for check, _ in outcomes)

    async def _mutate(self, guardrails: Sequence[Guardrail], call: GuardrailCall) -> dict[str, Any] | None:
        """Each mutate guardrail in turn on the previous one's result; stops at the first block."""
        rewritten: dict[str, Any] | None = None
        for guardrail in guardrails:
            check, verdict = (
                _run_local(guardrail, call)
                if isinstance(guardrail, LocalGuardrail)
                else (await _run_remote(guardrail, call))
            )
            self.checks.append(check)
            if check.blocks:
                break
            if verdict is not None and verdict.rewritten is not None and check.strategy != "audit":
                rewritten = verdict.rewritten
                call = replace(call, body=rewritten) if call.stage == "input" else replace(call, response=rewritten)
        return rewritten

    def _raise_if_blocked(self, stage: Stage) -> None:
        blocking: list[Check] = []
        for check in self.checks:  # a plain loop: a comprehension is a call of its own, on every request
            if check.result != "pass" and check.stage == stage and check.blocks:
                blocking.append(check)
        if blocking:
            refs = [check.guardrail for check in blocking]
            raise GuardrailBlocked(stage, blocking, self.selection.error_message(refs, stage == "input"))


def _check(
    guardrail: Guardrail, call: GuardrailCall, started: float, verdict: Verdict | None, error: str | None
) -> Check:
    spec = guardrail.spec
    result: Result
    if error is not None:
        result, message = "error", error
    elif verdict is not None and verdict.violation is not None:
        result, message = "fail", verdict.violation
    elif verdict is not None and verdict.rewritten is not None:
        result, message = "mutate", None
    else:
        result, message = "pass", None
    latency_ms = (time.perf_counter() - started) * 1000
    return Check(spec.ref, call.stage, spec.operation, spec.strategy, result, latency_ms, message, started)


def _run_local(guardrail: LocalGuardrail, call: GuardrailCall) -> Outcome:
    started = time.perf_counter()
    spec = guardrail.spec
    if guardrail.skipped:
        message = f"{spec.kind} guardrails are not run by the local gateway"
        return Check(spec.ref, call.stage, spec.operation, spec.strategy, "skipped", 0.0, message, started), None
    try:
        verdict = guardrail.check_now(call)
    except Exception as exc:
        logger.exception("guardrail %s failed unexpectedly", spec.ref)
        return _check(guardrail, call, started, None, f"the guardrail failed: {type(exc).__name__}"), None
    if verdict is PASS:  # nothing found, nothing rewritten: most checks of most requests
        latency_ms = (time.perf_counter() - started) * 1000
        return Check(spec.ref, call.stage, spec.operation, spec.strategy, "pass", latency_ms, None, started), verdict
    return _check(guardrail, call, started, verdict, None), verdict


async def _run_remote(guardrail: Guardrail, call: GuardrailCall) -> Outcome:
    started = time.perf_counter()
    try:
        verdict = await asyncio.wait_for(guardrail.check(call), call.timeout_s)
    except asyncio.TimeoutError:
        error = f"no answer within the guardrail timeout ({call.timeout_s * 1000:g} ms)"
    except GuardrailUnavailable as exc:
        error = str(exc)
    except Exception as exc:
        logger.exception("guardrail %s failed unexpectedly", guardrail.spec.ref)
        error = f"the guardrail failed: {type(exc).__name__}"
    else:
        return _check(guardrail, call, started, verdict, None), verdict
    return _check(guardrail, call, started, None, error), None
