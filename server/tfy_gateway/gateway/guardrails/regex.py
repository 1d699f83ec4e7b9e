"""`regex`: preset and custom patterns, compiled once at apply time.

Validate mode fails when any pattern matches (reported by preset name or `custom_patterns[i]`, never
the matched text); mutate mode replaces each match with the pattern's `redaction_text` (presets:
`[REDACTED]`). Patterns are Python regular expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

from tfy_gateway.gateway.guardrails.finders import Finder, compile_finder, emails
from tfy_gateway.gateway.guardrails.presets import DIGIT_FIRST, PRESETS
from tfy_gateway.gateway.guardrails.scanning import Finding, Scanner
from tfy_gateway.manifests.guardrail_integrations import RegexConfig

DEFAULT_REDACTION = "[REDACTED]"


@dataclass(frozen=True, slots=True)
class Pattern:
    label: str
    find: Finder
    redaction: str


def preset_finder(name: str) -> Finder:
    return emails if name == "email" else compile_finder(PRESETS[name], digit_first=name in DIGIT_FIRST)


def compile_patterns(config: RegexConfig) -> tuple[Pattern, ...]:
    """Raises re.error for a custom pattern that does not compile (validation reports it first)."""
    patterns = [
        Pattern(name, preset_finder(name), DEFAULT_REDACTION)
        for name in (config.preset_patterns.presets if config.preset_patterns else ())
    ]
    for index, custom in enumerate(config.custom_patterns or ()):
        redaction = DEFAULT_REDACTION if custom.redaction_text is None else custom.redaction_text
        patterns.append(Pattern(f"custom_patterns[{index}]", compile_finder(custom.pattern), redaction))
    return tuple(patterns)


class RegexScanner(Scanner):
    def __init__(self, patterns: tuple[Pattern, ...]) -> None:
        self.patterns = patterns
        self._redactions = {pattern.label: pattern.redaction for pattern in patterns}

    def findings(self, text: str) -> list[Finding]:
        return [Finding(pattern.label, start, end) for pattern in self.patterns for start, end in pattern.find(text)]

    def replacement(self, finding: Finding) -> str:
        return self._redactions[finding.label]
