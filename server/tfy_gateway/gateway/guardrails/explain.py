"""Which guardrails a request would meet, and why: the guardrail part of `explain`.

For each rule, whether it matches the request and, if not, the first part of its `when` that does
not; then the guardrails the matching rules combine into, per stage, in the order they would run
(validations together, mutations by priority), each with its mode, the rules that list it, and
whether this gateway runs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tfy_gateway.gateway.guardrails.compiled import CompiledGuardrails, CompiledRule
from tfy_gateway.gateway.guardrails.integration import Guardrail, LocalGuardrail, NotRun


def explain(
    compiled: CompiledGuardrails, model: str, subjects: Sequence[str], metadata: Mapping[str, str]
) -> dict[str, Any]:
    rules = []
    for rule in compiled.rules:
        why = rule.when.mismatch(model, subjects, metadata)
        rules.append({"id": rule.id, "matched": why is None, "reason": why or "every condition of its when holds"})
    selection = compiled.select(model, subjects, metadata)
    report: dict[str, Any] = {
        "config": compiled.config_name,
        "rules": rules,
        "timeout_ms": round(compiled.timeout_s * 1000),
        "parallel": compiled.parallel,
        "input": [],
        "output": [],
    }
    if selection is None:
        return report
    for stage, guardrails in (("input", selection.input), ("output", selection.output)):
        report[stage] = [_entry(g, stage, selection.rules, compiled.parallel) for g in _ordered(guardrails)]
    return report


def _ordered(guardrails: Sequence[Guardrail]) -> list[Guardrail]:
    validators = [g for g in guardrails if g.spec.operation == "validate" or isinstance(g, NotRun)]
    mutators = sorted((g for g in guardrails if g not in validators), key=lambda g: g.spec.priority)
    return [*validators, *mutators]


def _entry(guardrail: Guardrail, stage: str, rules: Sequence[CompiledRule], parallel: bool) -> dict[str, Any]:
    spec = guardrail.spec
    listed = [rule.id for rule in rules if spec.ref in (rule.input if stage == "input" else rule.output)]
    entry: dict[str, Any] = {
        "guardrail": spec.ref,
        "type": spec.kind,
        "operation": spec.operation,
        "mode": spec.strategy,
        "rules": listed,
        "runs_locally": not isinstance(guardrail, NotRun),
        "when": _when(guardrail, stage, parallel),
    }
    if spec.operation == "mutate":
        entry["priority"] = spec.priority
    return entry


def _when(guardrail: Guardrail, stage: str, parallel: bool) -> str:
    if isinstance(guardrail, NotRun):
        return "skipped: the local gateway does not run this type (the platform does)"
    if stage == "output":
        return "on the answer, before it is sent" + (
            " (in priority order)" if guardrail.spec.operation == "mutate" else ""
        )
    if guardrail.spec.operation == "mutate":
        return "before the model call, in priority order"
    if isinstance(guardrail, LocalGuardrail) or not parallel:
        return "before the model call"
    return "alongside the model call (a block discards its answer)"
