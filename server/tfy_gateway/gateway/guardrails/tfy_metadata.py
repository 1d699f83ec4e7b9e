"""`tfy-metadata`: the request's `X-TFY-METADATA` must carry the keys and values the spec names.

A key spec `{required: true}` needs the key; `{required, value: {constraint: regex, regex}}` needs
the value to match the regex in full (re.fullmatch), `{constraint: allowed_values}` to be one of the
values; with `required: false` an absent key passes but a present one is still checked. With
`allow_unknown_keys: false` any other key fails. It runs on the input only (the platform's rule); on
the output stage it passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tfy_gateway.gateway.guardrails.integration import PASS, GuardrailCall, LocalGuardrail, Spec, Verdict
from tfy_gateway.manifests.guardrail_integrations import RegexConstraint, TfyMetadataConfig


@dataclass(frozen=True, slots=True)
class KeyRule:
    key: str
    required: bool
    pattern: re.Pattern[str] | None = None
    allowed: frozenset[str] | None = None


class TfyMetadataGuardrail(LocalGuardrail):
    def __init__(self, spec: Spec, config: TfyMetadataConfig) -> None:
        super().__init__(spec)
        self.allow_unknown = config.allow_unknown_keys
        rules = []
        for key, key_spec in config.keys.items():
            value = getattr(key_spec, "value", None)
            required = key_spec.required is not False
            if isinstance(value, RegexConstraint):
                rules.append(KeyRule(key, required, pattern=re.compile(value.regex)))
            elif value is not None:
                rules.append(KeyRule(key, required, allowed=frozenset(value.allowed_values)))
            else:
                rules.append(KeyRule(key, required))
        self.rules = tuple(rules)
        self.known = frozenset(rule.key for rule in rules)

    def check_now(self, call: GuardrailCall) -> Verdict:
        if call.stage != "input":
            return PASS
        metadata = call.metadata
        problems = []
        for rule in self.rules:
            value = metadata.get(rule.key)
            if value is None:
                if rule.required:
                    problems.append(f"'{rule.key}' is required")
            elif rule.pattern is not None and not rule.pattern.fullmatch(value):
                problems.append(f"'{rule.key}' does not match {rule.pattern.pattern!r}")
            elif rule.allowed is not None and value not in rule.allowed:
                problems.append(f"'{rule.key}' must be one of {sorted(rule.allowed)}")
        if not self.allow_unknown:
            problems += (f"'{key}' is not allowed" for key in metadata if key not in self.known)
        return Verdict("x-tfy-metadata: " + "; ".join(problems)) if problems else PASS
