"""Where a notification channel's URL, token, routing key or SMTP login come from locally.

On the platform a target's `notification_channel` names a configured integration. Locally, channel
`<name>` reads its settings from the gateway's secret store, group `notify-<name>`: the variable
`TFY_SECRET_NOTIFY_<NAME>_<KEY>` (upper-cased, other characters as `_`), else
`{"notify-<name>": {"<key>": "..."}}` in `<data-dir>/secrets.json` (or `.yaml`). Keys per target
type follow the platform's integration fields (see `KEYS`). The secrets file is read again for each
delivery round, so fixing a missing setting needs no restart. Errors name the channel, the key and
where to set it, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tfy_gateway.gateway.errors import ConfigError
from tfy_gateway.gateway.providers.secrets import SECRET_FILE_NAMES, SecretError, SecretResolver, env_var_name

GROUP_PREFIX = "notify-"
ENV_PREFIX = "TFY_SECRET_NOTIFY_"

# target type -> (required keys, optional keys)
KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "slack-webhook": (("webhook_url",), ()),
    "ms-teams-webhook": (("webhook_url",), ()),
    "slack-bot": (("bot_token",), ("api_url",)),
    "pagerduty": (("integration_key",), ("integration_url",)),
    "email": (("host", "from_email"), ("port", "username", "password", "tls")),
}
SECRET_KEYS = frozenset({"webhook_url", "bot_token", "integration_key", "password"})
URL_KEYS = frozenset({"webhook_url", "api_url", "integration_url"})


class ChannelError(ConfigError):
    """A channel's settings are missing or unusable; the message says what to set, never a value."""


@dataclass(frozen=True)
class ChannelSettings:
    """One channel's resolved settings; `repr` hides every value."""

    channel: str
    values: Mapping[str, str]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.values.get(key, default)

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    def secrets(self) -> list[str]:
        """Values no log line, error or API answer may contain (URLs carry tokens in their path)."""
        return [value for key, value in self.values.items() if key in SECRET_KEYS or key in URL_KEYS]

    def __repr__(self) -> str:
        return f"ChannelSettings(channel={self.channel!r}, keys={sorted(self.values)})"


class ChannelResolver:
    """Looks channel settings up in one snapshot of the environment and the secrets file."""

    def __init__(
        self,
        secrets: SecretResolver | None,
        source: Path,
        problem: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._secrets = secrets
        self._source = source
        self._problem = problem
        suffixes = tuple("_" + key.upper() for key in SECRET_KEYS | URL_KEYS)
        self._known = {v for k, v in (environ or {}).items() if k.startswith(ENV_PREFIX) and k.endswith(suffixes) and v}

    @classmethod
    def load(cls, data_dir: Path, environ: Mapping[str, str] | None = None) -> ChannelResolver:
        """Read the secrets file now (call from a worker thread); a broken file fails every lookup."""
        source = next((data_dir / n for n in SECRET_FILE_NAMES if (data_dir / n).is_file()), None)
        source = source or data_dir / SECRET_FILE_NAMES[0]
        environ = os.environ if environ is None else environ
        try:
            return cls(SecretResolver.from_data_dir(data_dir, environ=environ), source, environ=environ)
        except SecretError as exc:
            return cls(None, source, str(exc), environ=environ)

    def secrets(self) -> list[str]:
        """Every channel secret known (`TFY_SECRET_NOTIFY_*` URLs, tokens, keys and passwords, and all
        resolved so far): scrubbed from every error of a round, whichever receiver echoed which."""
        return sorted(self._known)

    def settings(self, target_type: str, channel: str) -> ChannelSettings:
        required, optional = KEYS[target_type]
        if ":" in channel:
            raise ChannelError(
                f"{target_type} channel {channel!r}: a name with ':' cannot be configured locally; "
                "rename the notification_channel"
            )
        if self._secrets is None:
            raise ChannelError(f"{target_type} channel {channel!r}: cannot read its settings: {self._problem}")
        values: dict[str, str] = {}
        missing: list[str] = []
        for key in (*required, *optional):
            try:
                values[key] = self._secrets.resolve(f"tfy-secret://local:{GROUP_PREFIX}{channel}:{key}")
            except SecretError:
                if key in required:
                    missing.append(key)
        if missing:
            raise ChannelError(self._missing(target_type, channel, missing))
        for key in URL_KEYS & values.keys():
            parts = urlsplit(values[key])
            if parts.scheme not in ("http", "https") or not parts.netloc:
                variable = env_var_name(GROUP_PREFIX + channel, key)
                raise ChannelError(
                    f"{target_type} channel {channel!r}: {key} is not an http(s) URL; fix {variable} "
                    f"or the {key} of {GROUP_PREFIX}{channel} in {self._source}"
                )
        settings = ChannelSettings(channel, values)
        self._known.update(settings.secrets())
        return settings

    def _missing(self, target_type: str, channel: str, keys: list[str]) -> str:
        group = GROUP_PREFIX + channel
        variables = " and ".join(env_var_name(group, key) for key in keys)
        entries = ", ".join(f'"{key}": "..."' for key in keys)
        return (
            f"{target_type} channel {channel!r} is not configured: no {' / '.join(keys)}; set {variables} "
            f'or add {{"{group}": {{{entries}}}}} to {self._source}'
        )
