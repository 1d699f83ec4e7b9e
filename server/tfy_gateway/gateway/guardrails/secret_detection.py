"""`secret-detection`: credentials pasted into prompts or answers, by their documented forms.

Cloud and SaaS keys by their fixed prefixes (AWS, GitHub, Slack, OpenAI, Anthropic, Google, Stripe,
TrueFoundry), JSON Web Tokens, PEM private keys, and `key = value` assignments whose name says
secret. Mutate mode replaces each with the configured `redaction_text` (default `[REDACTED]`).
"""

from __future__ import annotations

import re

from tfy_gateway.gateway.guardrails.presets import PRESETS
from tfy_gateway.gateway.guardrails.scanning import Finding, Scanner

SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern))
    for label, pattern in (
        ("aws_access_key", PRESETS["aws_access_key"]),
        ("aws_secret_key", PRESETS["aws_secret_key"]),
        ("github_token", PRESETS["github_token"]),
        ("slack_token", PRESETS["slack_token"]),
        ("openai_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
        ("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
        ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
        ("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}\b"),
        ("truefoundry_token", r"\btfy_[A-Za-z0-9_-]{20,}"),
        ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        (
            "private_key",
            r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY[A-Z ]*-----",
        ),
        ("password_assignment", r"(?i)\b(?:password|passwd|pwd)\b[\"']?\s*[:=]\s*[\"']?[^\s\"']{6,}"),
        ("api_key_assignment", PRESETS["generic_api_key"]),
    )
)


class SecretScanner(Scanner):
    def __init__(self, redaction_text: str) -> None:
        self.redaction_text = redaction_text

    def findings(self, text: str) -> list[Finding]:
        return [
            Finding(label, match.start(), match.end())
            for label, pattern in SECRET_PATTERNS
            for match in pattern.finditer(text)
        ]

    def replacement(self, finding: Finding) -> str:
        return self.redaction_text
