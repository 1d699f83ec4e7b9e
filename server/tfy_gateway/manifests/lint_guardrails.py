"""Checks beyond the schema for guardrail rules and guardrail groups.

A rule's guardrails must name integrations that exist (when the catalog can tell), on the side they
are made for: a custom guardrail with `target: request` only in input lists, `response` only in
output lists; `tfy-metadata` checks the request's metadata, so it runs on input only. A group's
patterns must compile (a pattern that does not is a guardrail that fails every request).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from pydantic import BaseModel

from tfy_gateway.manifests.catalog import Catalog
from tfy_gateway.manifests.findings import Finding, finding
from tfy_gateway.manifests.guardrail_groups import GuardrailConfigGroup
from tfy_gateway.manifests.guardrail_integrations import (
    CustomGuardrail,
    RegexGuardrail,
    TfyMetadataGuardrail,
)
from tfy_gateway.manifests.guardrails import GuardrailsConfig, GuardrailsWhen
from tfy_gateway.manifests.schema_check import did_you_mean
from tfy_gateway.manifests.subjects import subject_finding

Loc = tuple[str | int, ...]
LLM_LISTS = ("llm_input_guardrails", "llm_output_guardrails")
MCP_LISTS = ("mcp_tool_pre_invoke_guardrails", "mcp_tool_post_invoke_guardrails")
INPUT_ONLY_TYPES = {"tfy-metadata": "it checks the request's X-TFY-METADATA"}


def lint_guardrails(model: BaseModel, catalog: Catalog | None) -> list[Finding]:
    """Semantic findings for a schema-valid guardrails config or guardrail group (others: none)."""
    if isinstance(model, GuardrailsConfig):
        return list(_rules(model, catalog))
    if isinstance(model, GuardrailConfigGroup):
        return list(_group(model))
    return []


def _rules(config: GuardrailsConfig, catalog: Catalog | None) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for index, rule in enumerate(config.rules):
        loc: Loc = ("rules", index)
        if rule.id in seen:
            yield finding(
                "error",
                "duplicate-rule-id",
                f"duplicate id '{rule.id}' (also used by rules[{seen[rule.id]}]); it must be unique",
                (*loc, "id"),
            )
        seen.setdefault(rule.id, index)
        yield from _when(rule.when, (*loc, "when"))
        for field in (*LLM_LISTS, *MCP_LISTS):
            yield from _references(getattr(rule, field), field, (*loc, field), catalog)
        if not rule.llm_input_guardrails and not rule.llm_output_guardrails and not _has_mcp(rule):
            yield finding(
                "warning",
                "empty-rule",
                f"rule '{rule.id}' lists no guardrails: it matches requests but runs nothing",
                loc,
            )


def _has_mcp(rule: object) -> bool:
    return any(getattr(rule, field) for field in MCP_LISTS)


def _when(when: GuardrailsWhen, loc: Loc) -> Iterator[Finding]:
    if when.subjects is not None:
        conditions = when.subjects.conditions
        for field, values in (("in", conditions.in_), ("not_in", conditions.not_in)):
            for index, subject in enumerate(values or ()):
                found = subject_finding(subject, (*loc, "subjects", "conditions", field, index))
                if found is not None:
                    yield found
    if when.target is not None:
        model = when.target.conditions.model
        for index, value in enumerate(model.values if model is not None else ()):
            if value != "*" and "/" not in value:
                yield finding(
                    "warning",
                    "model-format",
                    f"'{value}' has no '/': requests name models as '<account>/<model>', so it matches none",
                    (*loc, "target", "conditions", "model", "values", index),
                    hint="e.g. openai-main/gpt-4o, or openai-main/* for every model of an account",
                )


def _references(values: Sequence[str], field: str, loc: Loc, catalog: Catalog | None) -> Iterator[Finding]:
    listed: dict[str, int] = {}
    for index, reference in enumerate(values):
        where = (*loc, index)
        group, sep, name = reference.partition("/")
        if not (sep and group and name) or "/" in name:
            yield finding(
                "error",
                "guardrail-format",
                f"guardrail '{reference}' must be '<guardrail-group>/<integration>'",
                where,
                hint="e.g. pii-guards/block-pii",
            )
            continue
        if reference in listed:
            yield finding(
                "warning",
                "duplicate-guardrail",
                f"'{reference}' is listed twice (also at index {listed[reference]})",
                where,
            )
        listed.setdefault(reference, index)
        if catalog is None or not catalog.knows_guardrails():
            continue
        entry = catalog.guardrails.get(reference)
        if entry is None:
            guess = did_you_mean(reference, catalog.guardrails)
            yield finding(
                "error",
                "unknown-guardrail",
                f"guardrail '{reference}' is not an integration of any guardrail group"
                + (f"; did you mean '{guess}'?" if guess else ""),
                where,
                hint="apply the provider-account/guardrail-config-group that defines it first, or fix the name",
            )
            continue
        if field in MCP_LISTS:
            continue
        wrong_side = _wrong_side(entry.type, entry.target, field)
        if wrong_side:
            yield finding("error", "guardrail-side", f"guardrail '{reference}' {wrong_side}", where)


def _wrong_side(kind: str, target: str | None, field: str) -> str | None:
    output = field == "llm_output_guardrails"
    if kind == "custom" and target is not None and (target == "response") != output:
        lists = "llm_output_guardrails" if target == "response" else "llm_input_guardrails"
        return f"is a custom guardrail with target: {target}; it can only be listed in {lists}"
    if output and kind in INPUT_ONLY_TYPES:
        return f"is a {kind} guardrail, which runs on the input only ({INPUT_ONLY_TYPES[kind]})"
    return None


def _group(group: GuardrailConfigGroup) -> Iterator[Finding]:
    for index, integration in enumerate(group.integrations):
        loc: Loc = ("integrations", index)
        if isinstance(integration, RegexGuardrail):
            config = integration.config
            if not config.custom_patterns and not (config.preset_patterns and config.preset_patterns.presets):
                yield finding(
                    "error",
                    "no-patterns",
                    "a regex guardrail needs preset_patterns.presets or custom_patterns; it matches nothing",
                    (*loc, "config"),
                )
            for p_index, custom in enumerate(config.custom_patterns or ()):
                yield from _pattern(custom.pattern, (*loc, "config", "custom_patterns", p_index, "pattern"))
        elif isinstance(integration, TfyMetadataGuardrail):
            for key, spec in integration.config.keys.items():
                regex = getattr(getattr(spec, "value", None), "regex", None)
                if isinstance(regex, str):
                    yield from _pattern(regex, (*loc, "config", "keys", key, "value", "regex"))
        if getattr(integration, "operation", "validate") == "validate" and _priority_set(integration):
            yield finding(
                "warning",
                "priority-unused",
                "priority only orders mutate guardrails; this one validates, so it runs alongside the others",
                (*loc, "priority"),
            )
        if isinstance(integration, CustomGuardrail) and not integration.config.url.startswith(("http://", "https://")):
            yield finding(
                "error", "invalid-url", "config.url must be an http:// or https:// URL", (*loc, "config", "url")
            )


def _priority_set(integration: BaseModel) -> bool:
    return "priority" in integration.model_fields_set


def _pattern(pattern: str, loc: Loc) -> Iterator[Finding]:
    try:
        re.compile(pattern)
    except re.error as exc:
        yield finding("error", "invalid-regex", f"the pattern does not compile: {exc}", loc)
