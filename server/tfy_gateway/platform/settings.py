"""Where the control plane is and which key to use, read only from the environment.

The variable names are the platform's own (`TFY_BASE_URL`, aliases `TFY_HOST` and `TFY_API_HOST`,
and `TFY_API_KEY`), so one environment serves `tfy`, the skill's scripts and `tfy-gateway` alike.
Credentials are never taken from arguments: a key typed into a tool call or a command line ends up in
transcripts and shell history.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tfy_gateway.platform.errors import ConfigurationError

BASE_URL_VARIABLES = ("TFY_BASE_URL", "TFY_HOST", "TFY_API_HOST")
API_KEY_VARIABLE = "TFY_API_KEY"

# Paths people paste by mistake: the API roots under the origin rather than the origin itself.
_API_PATH_PREFIXES = ("/api/svc", "/api/llm", "/api/ml", "/api")


def mask_secret(secret: str) -> str:
    """A form of `secret` safe to print: its prefix (e.g. `tfy_`) and length, never the rest."""
    if not secret:
        return "<empty>"
    prefix = secret[:4] if len(secret) >= 12 else ""
    return f"{prefix}***({len(secret)} chars)"


def normalize_base_url(raw: str, *, variable: str = "TFY_BASE_URL") -> tuple[str, list[str]]:
    """Validate a control-plane URL; return it without a trailing `/` plus any warnings.

    The tfy CLI builds `urljoin(host, "api/svc")`, which replaces the last path segment, so only a
    bare origin (`https://org.truefoundry.cloud`, `http://127.0.0.1:8787`) works with every tool.
    """
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{variable}={url!r} is not an http(s) URL",
            hint="set it to the origin of the control plane, e.g. https://your-org.truefoundry.cloud "
            "or http://127.0.0.1:8787 for a local `tfy-gateway serve`",
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"{variable}={url!r} has a query string or fragment",
            hint=f"use the bare origin {parts.scheme}://{parts.netloc}",
        )
    warnings: list[str] = []
    if parts.path:
        origin = f"{parts.scheme}://{parts.netloc}"
        if any(parts.path == p or parts.path.startswith(p + "/") for p in _API_PATH_PREFIXES):
            raise ConfigurationError(
                f"{variable}={url!r} includes the API path {parts.path!r}",
                hint=f"set {variable}={origin}: clients add /api/svc/v1/... and /api/llm themselves",
            )
        warnings.append(
            f"{variable}={url!r} has a path ({parts.path!r}); the tfy CLI replaces the last path segment, "
            f"so use the bare origin {origin} unless the control plane really lives under that path"
        )
    return url, warnings


@dataclass(frozen=True)
class ControlPlaneSettings:
    """The control plane's base URL (no trailing `/`) and API key; `repr` masks the key."""

    base_url: str
    api_key: str = field(repr=False)
    base_url_variable: str = "TFY_BASE_URL"
    warnings: tuple[str, ...] = ()

    @property
    def masked_key(self) -> str:
        return mask_secret(self.api_key)

    def __repr__(self) -> str:
        return f"ControlPlaneSettings(base_url={self.base_url!r}, api_key={self.masked_key!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ControlPlaneSettings:
        """Read TFY_BASE_URL (or TFY_HOST, TFY_API_HOST: first non-empty wins) and TFY_API_KEY."""
        env = os.environ if environ is None else environ
        chosen = next(((name, env[name]) for name in BASE_URL_VARIABLES if env.get(name, "").strip()), None)
        api_key = env.get(API_KEY_VARIABLE, "").strip()
        if chosen is None or not api_key:
            missing = ["TFY_BASE_URL (or TFY_HOST, TFY_API_HOST)"] if chosen is None else []
            missing += [] if api_key else [API_KEY_VARIABLE]
            raise ConfigurationError(
                f"missing environment variable{'s' if len(missing) > 1 else ''} {' and '.join(missing)}",
                hint="export TFY_BASE_URL=<control plane origin, e.g. http://127.0.0.1:8787> and "
                "TFY_API_KEY=<a tfy_... personal access token>; for a local gateway the admin token is "
                "written to <data-dir>/admin-token by `tfy-gateway serve`",
            )
        variable, raw_url = chosen
        base_url, warnings = normalize_base_url(raw_url, variable=variable)
        for other in BASE_URL_VARIABLES:
            value = env.get(other, "").strip().rstrip("/")
            if other != variable and value and value != base_url:
                warnings.append(f"{variable} ({base_url}) is used; {other} ({value}) is ignored")
        if any(ch.isspace() for ch in api_key):
            raise ConfigurationError(
                f"{API_KEY_VARIABLE} contains whitespace ({mask_secret(api_key)})",
                hint="paste the token alone, without quotes or a 'Bearer ' prefix",
            )
        return cls(base_url=base_url, api_key=api_key, base_url_variable=variable, warnings=tuple(warnings))
