"""`safe_url`: a connection URL fit for logs and error messages (its password masked)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def safe_url(url: str) -> str:
    """`url` with any password replaced by `***`."""
    try:
        parts = urlsplit(url)
        password, port = parts.password, parts.port
    except ValueError:
        return "<unparseable url>"
    if password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    shown_port = f":{port}" if port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{shown_port}"))
