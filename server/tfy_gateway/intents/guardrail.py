"""Guardrail intent: "block PII in prompts for team X", "redact emails in answers", "block prompts matching
these patterns", "send prompts to our guardrail service".

It renders two manifests, applied in this order: a `provider-account/guardrail-config-group` holding
the integration (merged into the live group: its other integrations are kept), and the
`gateway-guardrails-config` rule that runs it on the chosen requests (merged into the live config:
every matching rule applies, so where the rule goes does not matter). `action` decides the
integration's operation and mode: block = validate + enforce, redact = mutate + enforce (custom:
the service's `transformed` answer is applied), audit = validate + audit (never blocks, logs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tfy_gateway.intents.base import SECRET_PREFIX, Findings, check_models, check_subjects, slug
from tfy_gateway.manifests.guardrail_values import AZURE_PII_CATEGORIES, REGEX_PRESETS
from tfy_gateway.manifests.schema_check import did_you_mean

GuardrailCheck = Literal["pii", "regex", "secrets", "sql", "custom"]
Stage = Literal["input", "output", "both"]
Action = Literal["block", "redact", "audit"]
CHECK_TYPES: dict[str, str] = {
    "pii": "tfy-pii",
    "regex": "regex",
    "secrets": "secret-detection",
    "sql": "sql-sanitizer",
    "custom": "custom",
}
RECOMMENDED_PII = ["Email", "PhoneNumber", "CreditCardNumber", "USSocialSecurityNumber"]
DEFAULT_GROUP = "guardrails"
DEFAULT_CONFIG_NAME = "guardrails"
GUARDRAILS_TYPE = "gateway-guardrails-config"
GROUP_TYPE = "provider-account/guardrail-config-group"


class GuardrailIntent(BaseModel):
    """Check requests (`stage` input), answers (output) or both for `check`, and block, redact or audit."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["guardrail"] = "guardrail"
    check: GuardrailCheck | None = Field(
        default=None,
        description="pii (tfy-pii), regex (patterns), secrets (credentials), sql (risky SQL), custom (your service).",
    )
    stage: Stage | None = Field(default=None, description="input: prompts; output: answers; both.")
    action: Action | None = Field(
        default=None, description="block (refuse with 400), redact (rewrite what was found), audit (only log)."
    )
    subjects: list[str] | None = Field(default=None, description="'*', 'team:<t>', 'user:<email>', ...")
    models: list[str] | None = Field(default=None, description="Model ids; default every model.")
    pii_categories: list[str] | None = Field(default=None, description="check=pii: Azure PII category names.")
    presets: list[str] | None = Field(default=None, description="check=regex: named patterns, e.g. email, us_ssn.")
    patterns: list[str] | None = Field(default=None, description="check=regex: your own regular expressions.")
    url: str | None = Field(default=None, description="check=custom: the guardrail service's endpoint.")
    bearer_token: str | None = Field(
        default=None, description="check=custom: a secret reference (tfy-secret://...) sent as a bearer token."
    )
    on_error: Literal["block", "allow"] | None = Field(
        default=None,
        description="check=custom: when the service fails or times out, block the request (enforce) or let it "
        "through (enforce_but_ignore_on_error).",
    )
    test_text: str | None = Field(
        default=None, description="Text the guardrail must catch; verification sends it (default: a crafted sample)."
    )
    group: str | None = Field(default=None, description="The guardrail group (default 'guardrails').")
    name: str | None = Field(default=None, description="The integration's name (default from check and action).")
    rule_id: str | None = None
    config_name: str | None = None


def check_guardrail(intent: GuardrailIntent, findings: Findings, catalog: Sequence[str] | None) -> None:
    if intent.check is None:
        findings.ask(
            "check",
            "missing",
            "What should the guardrail look for: personal data (pii, recommended), your own patterns (regex), "
            "credentials (secrets), risky SQL (sql), or should it ask your guardrail service (custom)?",
            list(CHECK_TYPES),
            "pii",
        )
    if intent.stage is None:
        findings.ask(
            "stage",
            "missing",
            "Check the prompts sent to the model (input, recommended), the model's answers (output), or both?",
            ["input", "output", "both"],
            "input",
        )
    if intent.action is None:
        findings.ask(
            "action",
            "missing",
            "When it finds something: block the request with an error (recommended), redact it and continue, "
            "or only log it (audit)?",
            ["block", "redact", "audit"],
            "block",
        )
    elif intent.action == "redact" and intent.check in ("sql",):
        findings.ask(
            "action",
            "invalid",
            "Risky SQL cannot be made safe by rewriting (only comments are stripped): block it instead?",
            ["block", "audit"],
            "block",
        )
    check_subjects(findings, "subjects", intent.subjects, who="the guardrail")
    if intent.models is None:
        findings.default("models", ["*"], "the guardrail covers every model")
    else:
        check_models(findings, "models", intent.models, catalog, allow_star=True)
    if intent.check == "pii":
        _check_pii(intent, findings)
    elif intent.check == "regex":
        _check_regex(intent, findings)
    elif intent.check == "custom":
        _check_custom(intent, findings)
    findings.default("group", intent.group or DEFAULT_GROUP, "the provider-account/guardrail-config-group")
    if intent.name is None:
        findings.default("name", guardrail_name(intent), "the integration's name: rules list <group>/<name>")
    if intent.rule_id is None:
        findings.default("rule_id", guardrail_rule_id(intent), "derived from the check and the subjects")


def _check_pii(intent: GuardrailIntent, findings: Findings) -> None:
    if not intent.pii_categories:
        findings.ask(
            "pii_categories",
            "missing",
            f"Which kinds of personal data? Recommended: {', '.join(RECOMMENDED_PII)} ('*' for every category).",
            [RECOMMENDED_PII, ["*"], ["Email"]],
            RECOMMENDED_PII,
        )
        return
    known = set(AZURE_PII_CATEGORIES)
    for index, category in enumerate(intent.pii_categories):
        if category not in known:
            guess = did_you_mean(category, AZURE_PII_CATEGORIES)
            findings.ask(
                f"pii_categories[{index}]",
                "invalid",
                f"'{category}' is not a PII category" + (f"; did you mean '{guess}'?" if guess else "."),
                [guess] if guess else RECOMMENDED_PII,
                guess,
            )


def _check_regex(intent: GuardrailIntent, findings: Findings) -> None:
    if not intent.patterns and not intent.presets:
        findings.ask(
            "patterns",
            "missing",
            "Which patterns? Give regular expressions, or named presets such as email, us_ssn, credit_card, "
            "aws_access_key.",
            [["email", "us_ssn"], [r"\bproject-[a-z]+\b"]],
        )
    for index, preset in enumerate(intent.presets or ()):
        if preset not in REGEX_PRESETS:
            guess = did_you_mean(preset, REGEX_PRESETS)
            findings.ask(
                f"presets[{index}]",
                "invalid",
                f"'{preset}' is not a preset" + (f"; did you mean '{guess}'?" if guess else "."),
                [guess] if guess else list(REGEX_PRESETS[:8]),
                guess,
            )
    for index, pattern in enumerate(intent.patterns or ()):
        try:
            re.compile(pattern)
        except re.error as exc:
            findings.ask(
                f"patterns[{index}]", "invalid", f"The pattern does not compile ({exc}); what should it be?", []
            )


def _check_custom(intent: GuardrailIntent, findings: Findings) -> None:
    if not intent.url:
        findings.ask(
            "url",
            "missing",
            "What is the guardrail service's URL (it receives the platform's custom-guardrail POST)?",
            ["https://guardrails.example.com/check"],
        )
    elif not intent.url.startswith(("http://", "https://")):
        findings.ask("url", "invalid", "The URL must start with http:// or https://; what is it?", [])
    if intent.bearer_token is not None and not intent.bearer_token.startswith(SECRET_PREFIX):
        findings.ask(
            "bearer_token",
            "invalid",
            "Store the token as a secret and give its reference (tfy-secret://<tenant>:<group>:<key>), never the "
            "token itself; which reference?",
            ["tfy-secret://<tenant>:<group>:<key>"],
        )
    if intent.stage == "both":
        findings.ask(
            "stage",
            "invalid",
            "A custom guardrail checks either requests (target: request) or answers (target: response): which one "
            "first? (Render the intent again for the other side, with another name.)",
            ["input", "output"],
            "input",
        )
    if intent.on_error is None:
        findings.ask(
            "on_error",
            "missing",
            "If the service fails or does not answer in time: block the request (recommended) or let it through?",
            ["block", "allow"],
            "block",
        )


def guardrail_name(intent: GuardrailIntent) -> str:
    if intent.name:
        return intent.name
    verb = {"block": "block", "redact": "redact", "audit": "audit"}.get(intent.action or "", "check")
    return slug(verb, intent.check or "guardrail")


def guardrail_rule_id(intent: GuardrailIntent) -> str:
    if intent.rule_id:
        return intent.rule_id
    subjects = ["all" if s == "*" else s for s in intent.subjects or ["all"]]
    return slug(guardrail_name(intent), *subjects[:2], intent.stage or "")


def reference(intent: GuardrailIntent) -> str:
    return f"{intent.group or DEFAULT_GROUP}/{guardrail_name(intent)}"


def integration(intent: GuardrailIntent) -> dict[str, Any]:
    """The `integration/guardrail-config/*` entry of the group."""
    check = intent.check or "pii"
    mutate = intent.action == "redact"
    entry: dict[str, Any] = {
        "name": guardrail_name(intent),
        "type": f"integration/guardrail-config/{CHECK_TYPES[check]}",
        "operation": "mutate" if mutate else "validate",
        "enforcing_strategy": "audit" if intent.action == "audit" else "enforce",
    }
    if mutate:
        entry["priority"] = 1
    if check == "pii":
        entry["config"] = {"pii_categories": list(intent.pii_categories or [])}
    elif check == "regex":
        config: dict[str, Any] = {}
        if intent.presets:
            config["preset_patterns"] = {"presets": list(intent.presets)}
        if intent.patterns:
            config["custom_patterns"] = [{"pattern": pattern} for pattern in intent.patterns]
        entry["config"] = config
    elif check == "secrets":
        entry["config"] = {"redaction_text": "[REDACTED]"}
    elif check == "sql":
        entry["config"] = {}
    else:
        entry["target"] = "response" if intent.stage == "output" else "request"
        entry["config"] = {"url": intent.url}
        if intent.on_error == "allow" and intent.action != "audit":
            entry["enforcing_strategy"] = "enforce_but_ignore_on_error"
        if intent.bearer_token:
            entry["auth_data"] = {"type": "bearer-auth", "bearer_token": intent.bearer_token}
    return entry


def guardrail_context(intent: GuardrailIntent) -> dict[str, Any]:
    """For templates/guardrail_rule.yaml.j2 (the group is built by `integration`, merged by render)."""
    stage = intent.stage or "input"
    ref = reference(intent)
    subjects = [s for s in intent.subjects or [] if s != "*"]
    models = [m for m in intent.models or [] if m != "*"]
    return {
        "name": intent.config_name or DEFAULT_CONFIG_NAME,
        "rule_id": guardrail_rule_id(intent),
        "subjects": subjects,
        "models": models,
        "input": [ref] if stage in ("input", "both") else [],
        "output": [ref] if stage in ("output", "both") else [],
    }


def render_group(intent: GuardrailIntent, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The guardrail group holding the intent's integration: the live group (`current`) with that
    integration added or replaced by name, or a new group."""
    entry = integration(intent)
    group = intent.group or DEFAULT_GROUP
    if current is None or current.get("type") != GROUP_TYPE:
        return {"name": group, "type": GROUP_TYPE, "integrations": [entry]}
    kept = [
        item
        for item in current.get("integrations") or []
        if not (isinstance(item, dict) and item.get("name") == entry["name"])
    ]
    position = next(
        (
            i
            for i, item in enumerate(current.get("integrations") or [])
            if isinstance(item, dict) and item.get("name") == entry["name"]
        ),
        len(kept),
    )
    return {**current, "integrations": [*kept[:position], entry, *kept[position:]]}
