"""Names that become part of model ids, URLs, file paths and HTTP headers: a safe alphabet; and
labels (rule ids, config and budget names, metadata keys) that reach response headers, log lines,
metric labels and Redis keys: printable and bounded.

The platform's documents give virtual-account names as "lowercase letters, digits and hyphens, 3-36
characters"; for provider accounts, integrations and teams they state no rule, so we decide (and
document in references/local-gateway.md): at most 64 characters, lowercase letters and digits,
inside them also `-` (and for model names `.` and `_`, as in `gpt-4.1` or `llama_3`). Never `/`
(a model id is `<account>/<model>`: a slash in either half would let two resources claim one id),
never whitespace, control characters or path tricks such as `..`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_NAME = 64
MAX_LABEL = 128
_ACCOUNT = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_MODEL = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")


def _shown(value: str) -> str:
    """The value as it can safely be echoed: escaped, and cut when long."""
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _checker(pattern: re.Pattern[str], what: str, allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > MAX_NAME:
            raise ValueError(f"{what} {_shown(value)} is {len(value)} characters long; at most {MAX_NAME} are allowed")
        if not pattern.fullmatch(value) or ".." in value:
            raise ValueError(
                f"{what} {_shown(value)} is not allowed: use {allowed}, starting and ending with a letter or digit"
            )
        return value

    return check


AccountName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME, description="1-64 lowercase letters, digits and '-'."),
    AfterValidator(_checker(_ACCOUNT, "name", "lowercase letters, digits and '-'")),
]
ModelName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME, description="1-64 lowercase letters, digits, '-', '.' and '_'."),
    AfterValidator(_checker(_MODEL, "model name", "lowercase letters, digits, '-', '.' and '_'")),
]


def check_label(value: str, what: str = "name") -> str:
    """`value` if it can appear in a response header, a log line, a metric label and a Redis key as
    written: 1-128 printable characters (no control character, DEL, line break, tab or invisible
    format character), no space at either end; else ValueError saying which character and where."""
    if not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > MAX_LABEL:
        raise ValueError(f"{what} {_shown(value)} is {len(value)} characters long; at most {MAX_LABEL} are allowed")
    for position, char in enumerate(value):
        if not char.isprintable():
            raise ValueError(
                f"{what} {_shown(value)} contains U+{ord(char):04X} (a control or invisible character) at "
                f"position {position + 1}; it would break the response headers, log lines and metrics it "
                "appears in: use printable characters only"
            )
    if value != value.strip():
        raise ValueError(f"{what} {_shown(value)} starts or ends with a space")
    return value


def _label(what: str) -> Callable[[str], str]:
    return lambda value: check_label(value, what)


Label = Annotated[
    str,
    Field(min_length=1, max_length=MAX_LABEL, description="1-128 printable characters."),
    AfterValidator(_label("name")),
]
"""A config, budget, rule or channel name: shown in `x-tfy-applied-configurations`, logs and metrics."""
RuleId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_LABEL, description="1-128 printable characters; shown in response headers."),
    AfterValidator(_label("rule id")),
]
MetadataKey = Annotated[
    str,
    Field(min_length=1, max_length=MAX_LABEL, description="A metadata key: 1-128 printable characters."),
    AfterValidator(_label("metadata key")),
]


def _applies_per(value: str) -> str:
    """A counter dimension; in `metadata.<key>` the key is a label like any metadata key."""
    check_label(value, "counter dimension")
    if value.startswith("metadata.") and value != "metadata.":
        check_label(value.removeprefix("metadata."), "metadata key")
    return value


AppliesPer = Annotated[
    str,
    Field(min_length=1, max_length=MAX_LABEL, description="user | virtualaccount | model | team | metadata.<key>."),
    AfterValidator(_applies_per),
]


def check_email_address(value: str) -> str:
    """A user's email as a manifest names it (team members): printable, at most 254 characters, one `@`."""
    if len(value) > 254 or not value.isprintable() or value.count("@") != 1 or " " in value:
        raise ValueError(f"{_shown(value)} is not an email address (printable, one '@', at most 254 characters)")
    return value


EmailAddress = Annotated[str, AfterValidator(check_email_address)]
