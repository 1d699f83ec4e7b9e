"""regex: every preset of the platform's enum exists, fast finders find exactly what `finditer` does,
and mutate mode redacts with each pattern's own text."""

from __future__ import annotations

import random
import re

import pytest

from tfy_gateway.gateway.guardrails.finders import compile_finder, emails
from tfy_gateway.gateway.guardrails.presets import DIGIT_FIRST, PRESETS
from tfy_gateway.gateway.guardrails.regex import RegexScanner, compile_patterns, preset_finder
from tfy_gateway.manifests.guardrail_integrations import RegexConfig
from tfy_gateway.manifests.guardrail_values import REGEX_PRESETS

SAMPLES = [
    "jane.doe@example.com",
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "123-45-6789",
    "192.168.1.1",
    "AKIAIOSFODNN7EXAMPLE",
    "https://x.org/a",
    "ABCPE1234F",
    "123456789GBR",
    "12AB34567",
    "project-alpha",
    "I will KILL you",
]
ALPHABET = "ab AZ0123456789-.@_:/()+,\n"


def test_every_preset_of_the_platform_has_a_pattern() -> None:
    assert set(PRESETS) == set(REGEX_PRESETS)
    assert set(PRESETS) >= DIGIT_FIRST


def _texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        noise = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 60)))
        cut = rng.randint(0, len(noise))
        texts.append(noise[:cut] + rng.choice(SAMPLES) + noise[cut:])
    return texts


@pytest.mark.parametrize("name", sorted(set(PRESETS) - {"email"}))
def test_each_preset_finder_matches_finditer(name: str) -> None:
    plain = re.compile(PRESETS[name])
    finder = preset_finder(name)
    for text in _texts(hash(name) % 1000, 200):
        expected = [m.span() for m in plain.finditer(text) if m.end() > m.start()]
        assert list(finder(text)) == expected, (name, text)


@pytest.mark.parametrize("pattern", [r"\bproject-[a-z]+\b", r"(?i)\bkill\b", r"\b[0-9]{3}\b", r"a|\bb", r"x+"])
def test_custom_patterns_find_what_finditer_finds(pattern: str) -> None:
    plain = re.compile(pattern)
    finder = compile_finder(pattern)
    for text in _texts(7, 200):
        assert list(finder(text)) == [m.span() for m in plain.finditer(text) if m.end() > m.start()], text


def test_emails_are_found_from_their_at_sign() -> None:
    text = "to a.b@c.io, x@y (not one), and _u@v.org."
    assert [text[s:e] for s, e in emails(text)] == ["a.b@c.io", "_u@v.org"]


def test_mutate_redacts_each_match_with_its_pattern_text_and_validate_names_them() -> None:
    config = RegexConfig.model_validate(
        {
            "preset_patterns": {"presets": ["email"]},
            "custom_patterns": [{"pattern": r"\bproject-[a-z]+\b", "redaction_text": "<project>"}],
        }
    )
    scanner = RegexScanner(compile_patterns(config))
    text = "ask bob@example.com about project-apollo"
    assert scanner.redact(text) == "ask [REDACTED] about <project>"
    assert sorted(f.label for f in scanner.findings(text)) == ["custom_patterns[0]", "email"]
