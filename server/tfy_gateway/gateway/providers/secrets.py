"""Resolve `tfy-secret://<tenant>:<group>:<key>` references for the local gateway.

Values come from, in order: the environment variable `TFY_SECRET_<GROUP>_<KEY>` (upper-cased, every
character other than A-Z/0-9 replaced by `_`; e.g. `tfy-secret://local:openai-group:API_KEY` ->
`TFY_SECRET_OPENAI_GROUP_API_KEY`), then the secrets file `{"<group>": {"<key>": "value"}}`
(`<data-dir>/secrets.json`, `secrets.yaml` or `secrets.yml`). The tenant part is not used locally.
Errors name the reference and where to define it, never a value. A secrets file that its group or
others may read is used, but the gateway warns at every start (`exposed_secret_files`): refusing
would take every model offline on the next restart for a mode bit, so the fix is named instead.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tfy_gateway.gateway.errors import ConfigError

SCHEME = "tfy-secret://"
SECRET_FILE_NAMES = ("secrets.json", "secrets.yaml", "secrets.yml")
_NON_ALNUM = re.compile(r"[^A-Z0-9]")


class SecretError(ConfigError, ValueError):
    """A secret reference is malformed or has no value; the message never contains a secret."""


def env_var_name(group: str, key: str) -> str:
    return "TFY_SECRET_" + _NON_ALNUM.sub("_", group.upper()) + "_" + _NON_ALNUM.sub("_", key.upper())


def exposed_secret_files(data_dir: str | Path) -> list[str]:
    """A warning for each secrets file in `data_dir` that its group or others may read or write."""
    warnings = []
    for name in SECRET_FILE_NAMES:
        path = Path(data_dir) / name
        try:
            mode = path.stat().st_mode & 0o777
        except OSError:
            continue
        if mode & 0o077:
            warnings.append(
                f"secrets file {path} is readable or writable by its group or others (mode {mode:04o}): anyone "
                f"with an account on this machine may read the provider keys in it; run chmod 600 {path}"
            )
    return warnings


def parse_reference(reference: str) -> tuple[str, str, str]:
    """`tfy-secret://tenant:group:key` -> (tenant, group, key)."""
    parts = reference[len(SCHEME) :].split(":") if reference.startswith(SCHEME) else []
    if len(parts) != 3 or not all(parts):
        raise SecretError(f"malformed secret reference {reference!r}: expected tfy-secret://<tenant>:<group>:<key>")
    return parts[0], parts[1], parts[2]


class SecretResolver:
    """Looks secrets up in the environment and an in-memory copy of the secrets file."""

    def __init__(
        self,
        values: Mapping[str, Mapping[str, str]] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        source: str | None = None,
        placeholder: str | None = None,
    ) -> None:
        """`placeholder`: the value of a reference that has none (offline, where no real provider is
        called); without one such a reference is a `SecretError`."""
        self._values = {group: dict(keys) for group, keys in (values or {}).items()}
        self._environ = os.environ if environ is None else environ
        self._source = source
        self._placeholder = placeholder

    @classmethod
    def from_data_dir(
        cls, data_dir: str | Path, *, environ: Mapping[str, str] | None = None, placeholder: str | None = None
    ) -> SecretResolver:
        """Load the first secrets file found in `data_dir` (none is fine: env vars only)."""
        for name in SECRET_FILE_NAMES:
            path = Path(data_dir) / name
            if path.is_file():
                return cls(_load(path), environ=environ, source=str(path), placeholder=placeholder)
        return cls(environ=environ, source=str(Path(data_dir) / SECRET_FILE_NAMES[0]), placeholder=placeholder)

    @property
    def placeholder(self) -> str | None:
        """What a reference without a value resolves to (offline), or None (it is an error)."""
        return self._placeholder

    def resolve(self, value: str) -> str:
        """A `tfy-secret://` reference's value; any other string is returned unchanged (a literal)."""
        if not value.startswith(SCHEME):
            return value
        _, group, key = parse_reference(value)
        variable = env_var_name(group, key)
        found = self._environ.get(variable)
        if found:
            return found
        found = self._values.get(group, {}).get(key)
        if found:
            return found
        if self._placeholder is not None:
            return self._placeholder
        where = f' or add {{"{group}": {{"{key}": "..."}}}} to {self._source}' if self._source else ""
        raise SecretError(
            f"secret {value} is not defined: set the environment variable {variable} (read when the gateway "
            f"starts){where}, then re-apply the provider account"
        )


def _load(path: Path) -> dict[str, dict[str, str]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        parse: Callable[[str], Any] = json.loads
        errors: tuple[type[Exception], ...] = (json.JSONDecodeError,)
    else:  # PyYAML loads only for a YAML secrets file: most gateways start without it
        import yaml

        parse, errors = yaml.safe_load, (yaml.YAMLError,)
    try:
        data: Any = parse(text)
    except errors as exc:
        # The parser's message may quote file content, i.e. a secret: report the position only.
        line = getattr(exc, "lineno", None) or getattr(getattr(exc, "problem_mark", None), "line", None)
        raise SecretError(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}"
            + (f" (near line {line})" if line is not None else "")
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise SecretError(f'{path}: expected {{"<group>": {{"<key>": "value"}}}}')
    return {str(group): {str(k): str(v) for k, v in keys.items()} for group, keys in data.items()}
