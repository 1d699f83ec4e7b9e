"""`CompiledGuardrails`: the guardrail part of a compiled configuration.

Built at apply time from `gateway-guardrails-config`, the guardrail groups and
`gateway-global-settings.guardrail_settings`: rules with compiled matchers, every integration
compiled once (patterns, detectors, resolved secrets), the timeout and whether input validation
runs alongside the model call. `select` answers, per request, which guardrails run on its input and
its output; with no rule and no `X-TFY-GUARDRAILS` header it returns None after one comparison, so
a gateway without guardrails pays nothing for the stage. Requests of one model, caller and metadata
meet the same rules: their selection is remembered (per compiled config, which never changes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from tfy_gateway.gateway.guardrails.header import RequestedGuardrails
from tfy_gateway.gateway.guardrails.integration import Guardrail, LocalGuardrail, NotRun
from tfy_gateway.gateway.guardrails.matching import RuleMatcher
from tfy_gateway.manifests.global_settings import GlobalSettings
from tfy_gateway.manifests.guardrails import GuardrailsConfig

if TYPE_CHECKING:
    from tfy_gateway.manifests.guardrail_groups import GuardrailConfigGroup

DEFAULT_TIMEOUT_MS = 5000
MAX_REMEMBERED_SHAPES = 4096
"""Selections remembered per compiled config; past it the memo starts again (metadata values can
make every request a new shape)."""


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    when: RuleMatcher
    input: tuple[str, ...]
    output: tuple[str, ...]
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class StagePlan:
    """How one stage's guardrails run: the validations that compute (inline) and those that call a
    service (raced with the model call), and the mutations in the order they apply (by priority; ties
    keep the listed order). Fixed per selection, which requests of one shape share."""

    local: tuple[LocalGuardrail, ...]
    remote: tuple[Guardrail, ...]
    mutators: tuple[Guardrail, ...]

    @classmethod
    def of(cls, guardrails: Sequence[Guardrail]) -> StagePlan:
        validators = [g for g in guardrails if g.spec.operation == "validate" or isinstance(g, NotRun)]
        mutators = [g for g in guardrails if g.spec.operation == "mutate" and not isinstance(g, NotRun)]
        return cls(
            tuple(g for g in validators if isinstance(g, LocalGuardrail)),
            tuple(g for g in validators if not isinstance(g, LocalGuardrail)),
            tuple(sorted(mutators, key=lambda g: g.spec.priority)),
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """The guardrails of one request: input and output (each in a stable order), and the rules that
    chose them (the header's choices carry no rule)."""

    input: tuple[Guardrail, ...]
    output: tuple[Guardrail, ...]
    rules: tuple[CompiledRule, ...]
    parallel: bool
    timeout_s: float
    input_plan: StagePlan = field(init=False, repr=False, compare=False)
    output_plan: StagePlan = field(init=False, repr=False, compare=False)
    rule_ids: tuple[str, ...] = field(init=False, repr=False, compare=False)  # the report's, shared

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_plan", StagePlan.of(self.input))
        object.__setattr__(self, "output_plan", StagePlan.of(self.output))
        object.__setattr__(self, "rule_ids", tuple(rule.id for rule in self.rules))

    def without_output(self) -> Selection:
        """For endpoints whose answers carry no text to check."""
        return Selection(self.input, (), self.rules, self.parallel, self.timeout_s)

    def error_message(self, refs: Iterable[str], stage_input: bool) -> str | None:
        """The custom message of the first rule that listed one of `refs`."""
        wanted = set(refs)
        for rule in self.rules:
            listed = rule.input if stage_input else rule.output
            if rule.error_message and wanted.intersection(listed):
                return rule.error_message
        return None


@dataclass(frozen=True)
class CompiledGuardrails:
    config_name: str | None = None
    rules: tuple[CompiledRule, ...] = ()
    integrations: Mapping[str, Guardrail] = field(default_factory=lambda: MappingProxyType({}))
    timeout_s: float = DEFAULT_TIMEOUT_MS / 1000
    parallel: bool = True
    # (model, subjects, metadata items) -> the selection of a request without the header.
    _selections: dict[tuple[object, ...], Selection | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def select(
        self,
        model: str,
        subjects: Sequence[str],
        metadata: Mapping[str, str],
        requested: RequestedGuardrails | None = None,
    ) -> Selection | None:
        """The guardrails a request runs, or None when there are none."""
        if requested is not None:
            return self._select(model, subjects, metadata, requested)
        if not self.rules:
            return None
        memo = self._selections
        shape = (model, tuple(subjects), tuple(metadata.items()) if metadata else ())
        try:
            return memo[shape]
        except KeyError:
            pass
        selection = self._select(model, subjects, metadata, None)
        if len(memo) >= MAX_REMEMBERED_SHAPES:
            memo.clear()
        memo[shape] = selection
        return selection

    def _select(
        self,
        model: str,
        subjects: Sequence[str],
        metadata: Mapping[str, str],
        requested: RequestedGuardrails | None,
    ) -> Selection | None:
        matched = tuple(rule for rule in self.rules if rule.when.matches(model, subjects, metadata))
        input_refs = _union(*(rule.input for rule in matched), requested.input if requested else ())
        output_refs = _union(*(rule.output for rule in matched), requested.output if requested else ())
        if not input_refs and not output_refs:
            return None
        parallel = self.parallel if requested is None or requested.parallel is None else requested.parallel
        return Selection(self._guardrails(input_refs), self._guardrails(output_refs), matched, parallel, self.timeout_s)

    def _guardrails(self, refs: Iterable[str]) -> tuple[Guardrail, ...]:
        return tuple(self.integrations[ref] for ref in refs if ref in self.integrations)

    def unknown(self, refs: Iterable[str]) -> list[str]:
        """The references among `refs` that name no integration (for the header's 400)."""
        return [ref for ref in refs if ref not in self.integrations]


def _union(*lists: Iterable[str]) -> tuple[str, ...]:
    """Every reference once, in the order first listed."""
    return tuple(dict.fromkeys(ref for refs in lists for ref in refs))


def _integrations(groups: tuple[GuardrailConfigGroup, ...], resolve: Callable[[str], str]) -> dict[str, Guardrail]:
    """Every group's checks by reference; the vendors' modules load with the first group."""
    if not groups:
        return {}
    from tfy_gateway.gateway.guardrails.registry import build

    return {
        f"{group.name}/{integration.name}": build(group.name, integration, resolve)
        for group in groups
        for integration in group.integrations
    }


def compile_guardrails(
    config: GuardrailsConfig | None,
    groups: Iterable[GuardrailConfigGroup],
    settings: GlobalSettings | None,
    resolve: Callable[[str], str],
    *,
    default_timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> CompiledGuardrails:
    integrations = _integrations(tuple(groups), resolve)
    rules = tuple(
        CompiledRule(
            rule.id,
            RuleMatcher.of(rule.when),
            tuple(rule.llm_input_guardrails),
            tuple(rule.llm_output_guardrails),
            rule.custom_error_message,
        )
        for rule in (config.rules if config is not None else ())
        if rule.llm_input_guardrails or rule.llm_output_guardrails
    )
    guardrail_settings = settings.guardrail_settings if settings is not None else None
    timeout_ms = default_timeout_ms
    parallel = True
    if guardrail_settings is not None:
        if guardrail_settings.timeout_ms is not None:
            timeout_ms = guardrail_settings.timeout_ms
        if guardrail_settings.enable_parallel_execution is not None:
            parallel = guardrail_settings.enable_parallel_execution
    return CompiledGuardrails(
        config_name=config.name if config is not None else None,
        rules=rules,
        integrations=MappingProxyType(integrations),
        timeout_s=timeout_ms / 1000,
        parallel=parallel,
    )
