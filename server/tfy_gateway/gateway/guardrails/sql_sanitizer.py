"""`sql-sanitizer`: risky SQL in prompts or answers (agents that write queries).

Each `block_*` switch refuses its statement (DROP, TRUNCATE, ALTER, GRANT, REVOKE, DELETE or UPDATE
without WHERE) in both modes: rewriting cannot make such a statement safe. `require_parameterization`
flags values spliced into a query string (`'...' + x`, `%s` formatting, `{x}` templates).
`strip_comments` removes `--` and `/* */` comments in mutate mode (validate mode does not fail on
comments: stripping them is a rewrite).
"""

from __future__ import annotations

import re

from tfy_gateway.gateway.guardrails.scanning import Finding, Scanner
from tfy_gateway.manifests.guardrail_integrations import SqlSanitizerConfig

_STATEMENTS = {
    "block_drop": ("DROP", re.compile(r"(?i)\bdrop\s+(?:table|database|schema|view|index|user|role)\b")),
    "block_truncate": ("TRUNCATE", re.compile(r"(?i)\btruncate\s+(?:table\s+)?\w")),
    "block_alter": ("ALTER", re.compile(r"(?i)\balter\s+(?:table|database|schema|user|role|view)\b")),
    "block_grant": ("GRANT", re.compile(r"(?i)\bgrant\s+[\w ,]+\s+on\b")),
    "block_revoke": ("REVOKE", re.compile(r"(?i)\brevoke\s+[\w ,]+\s+on\b")),
}
_UNBOUNDED = {
    "block_delete_without_where": ("DELETE without WHERE", re.compile(r"(?i)\bdelete\s+from\s+[\w.\"`\[\]]+[^;]*")),
    "block_update_without_where": ("UPDATE without WHERE", re.compile(r"(?i)\bupdate\s+[\w.\"`\[\]]+\s+set\b[^;]*")),
}
_WHERE = re.compile(r"(?i)\bwhere\b")
_INTERPOLATION = re.compile(
    r"(?i)\b(?:select|insert|update|delete)\b[^;\n]*?(?:['\"]\s*\+\s*\w|\+\s*['\"]|%s|%\(\w+\)s|\{\w*\}|\$\{\w+\})"
)
_COMMENTS = re.compile(r"--[^\n]*|/\*[\s\S]*?\*/")


class SqlScanner(Scanner):
    def __init__(self, config: SqlSanitizerConfig) -> None:
        self.checks = tuple(check for field, check in _STATEMENTS.items() if getattr(config, field) is not False)
        self.unbounded = tuple(check for field, check in _UNBOUNDED.items() if getattr(config, field) is not False)
        self.parameterization = bool(config.require_parameterization)
        self.strip_comments = config.strip_comments is not False

    def findings(self, text: str) -> list[Finding]:
        found = [Finding(label, m.start(), m.end()) for label, pattern in self.checks for m in pattern.finditer(text)]
        found += (
            Finding(label, m.start(), m.end())
            for label, pattern in self.unbounded
            for m in pattern.finditer(text)
            if not _WHERE.search(m.group())
        )
        if self.parameterization:
            found += (Finding("string interpolation", m.start(), m.end()) for m in _INTERPOLATION.finditer(text))
        return found

    def refusals(self, text: str) -> list[Finding]:
        return self.findings(text)

    def redact(self, text: str) -> str:
        return _COMMENTS.sub("", text) if self.strip_comments else text
