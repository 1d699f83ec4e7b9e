"""Tunables of the data plane, with defaults fit for a local gateway.

`GatewaySettings` (owned by the app factory) has no data-plane fields yet, so the few knobs an
operator may want are read once, when the extension is built, from `TFY_GATEWAY_*` variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_UPSTREAM_TIMEOUT_S = 600.0
DEFAULT_RETENTION_DAYS = 30.0
MAX_LOGGED_BODY_CHARS = 64 * 1024

_ENV = {
    "upstream_timeout_s": "TFY_GATEWAY_UPSTREAM_TIMEOUT_S",
    "max_body_bytes": "TFY_GATEWAY_MAX_BODY_BYTES",
    "log_retention_days": "TFY_GATEWAY_LOG_RETENTION_DAYS",
    "log_bodies": "TFY_GATEWAY_LOG_BODIES",
}


class OptionsError(ValueError):
    """An environment variable holds a value the data plane cannot use."""


@dataclass(frozen=True)
class DataPlaneOptions:
    max_body_bytes: int = MAX_BODY_BYTES
    # Per upstream attempt when the request has no x-tfy-request-timeout (expiry -> 504).
    upstream_timeout_s: float = DEFAULT_UPSTREAM_TIMEOUT_S
    log_retention_days: float = DEFAULT_RETENTION_DAYS
    # Log prompt and completion bodies for every request (otherwise only with x-tfy-logging-config).
    log_bodies: bool = False
    log_batch_size: int = 512
    log_flush_interval_s: float = 0.25
    connection_limit: int = 0  # aiohttp pool size; 0 = unlimited

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DataPlaneOptions:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, variable in _ENV.items():
            raw = environ.get(variable)
            if raw is None or raw.strip() == "":
                continue
            if name == "log_bodies":
                values[name] = raw.strip().lower() in ("1", "true", "yes", "on")
                continue
            try:
                number = float(raw)
            except ValueError:
                raise OptionsError(f"{variable}={raw!r}: expected a number") from None
            if number <= 0 and name != "log_retention_days":
                raise OptionsError(f"{variable}={raw!r}: must be > 0")
            values[name] = int(number) if name == "max_body_bytes" else number
        return cls(**values)  # type: ignore[arg-type]
