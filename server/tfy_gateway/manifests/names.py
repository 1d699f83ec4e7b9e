"""Names that become part of model ids, URLs, file paths and HTTP headers: a safe alphabet.

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
