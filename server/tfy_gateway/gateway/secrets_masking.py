"""Masking secrets in URLs and in text that may quote them: the one place that decides what to hide.

Every URL a log line, an error message, an API answer or a state file shows goes through `mask_url`:
the userinfo password becomes `***`, every query value becomes `***` (a Teams `sig=`, an Azure
`code=`, a `?password=` of a database URL), and for a *webhook-type* URL, whose path is itself the
credential (Slack `/services/T…/B…/<secret>`, Teams workflow URLs, generic webhooks), everything
after the host becomes `/***`. `host_of` is the host and port alone, for messages that need no more.

Text that came from elsewhere (a receiver's answer, an exception) may echo a secret or a piece of
one: `scrub` replaces every known secret value and every fragment of a secret URL that could identify
it (its userinfo, its path, each path segment of `MIN_FRAGMENT` characters or more, each query value)
with `***`. Shorter fragments (`v2`, `hook`) are kept: they identify nothing and replacing them would
garble the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

MASK = "***"
MIN_FRAGMENT = 6


def _parts(url: str) -> tuple[str, str | None, str | None, int | None] | None:
    """(hostname, username, password, port) of `url`, or None when it cannot be parsed."""
    try:
        parts = urlsplit(url)
        return parts.hostname or "", parts.username, parts.password, parts.port
    except ValueError:
        return None


def mask_url(url: str, *, secret_path: bool = False) -> str:
    """`url` fit to show anywhere: password, query values and fragment masked; with `secret_path`
    (webhook URLs) the path too. An unparseable URL is shown as a placeholder, never echoed."""
    found = _parts(url)
    if found is None:
        return "<unparseable url>"
    host, user, password, port = found
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        return "<unparseable url>"
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    if user is not None:
        netloc = f"{quote(unquote(user), safe='')}{':' + MASK if password is not None else ''}@{netloc}"
    path = parts.path
    if secret_path and path not in ("", "/"):
        path = "/" + MASK
    query = "&".join(f"{key}={MASK}" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    if parts.query and not query:
        query = MASK
    if secret_path and parts.query:
        query = MASK
    fragment = MASK if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


def host_of(url: str) -> str:
    """`host[:port]` of `url` (no userinfo, no path): how a message names where it tried to go."""
    found = _parts(url)
    if found is None or not found[0]:
        return "<unparseable url>"
    host, _, _, port = found
    return f"{host}:{port}" if port is not None else host


def secret_fragments(value: str) -> list[str]:
    """The pieces of a secret that must not appear in text: the value itself and, for a URL, its
    userinfo, its path, its long path segments and its query values (raw and percent-decoded)."""
    fragments = [value]
    parts = urlsplit(value) if value.startswith(("http://", "https://")) else None
    if parts is not None:
        try:
            credentials = [parts.username, parts.password]
        except ValueError:
            credentials = []
        fragments += [c for c in credentials if c]
        if len(parts.path) > 1:
            fragments.append(parts.path)
            fragments += [segment for segment in parts.path.split("/") if len(segment) >= MIN_FRAGMENT]
        if parts.query:
            fragments.append(parts.query)
            fragments += [v for _, v in parse_qsl(parts.query, keep_blank_values=True) if len(v) >= MIN_FRAGMENT]
    decoded = [unquote(f) for f in fragments]
    return [f for f in dict.fromkeys(fragments + decoded) if f]


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value, and every identifying fragment of a secret URL, replaced by `***`."""
    fragments = {fragment for secret in secrets if secret for fragment in secret_fragments(secret)}
    for fragment in sorted(fragments, key=len, reverse=True):
        text = text.replace(fragment, MASK)
    return text
