"""Turning a page's data into HTML that is safe whatever the data holds.

Templates are Jinja2 with autoescaping on for every template, so a model name, a metadata value or
a logged prompt is always text, never markup. Every response carries a Content-Security-Policy that
allows no script at all (the dashboard has none: filters are GET forms, charts are SVG drawn on the
server), styles and images from this origin only, and no framing; nothing on a page loads from
another host. Pages are never cached (they show private data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from typing import Any

import jinja2
from starlette.responses import HTMLResponse, Response

CSP = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class Page:
    """What a page handler returns: a template and its context (rendered by `Renderer`)."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def utc(epoch: float | None) -> str:
    """`2026-01-31 12:00:05Z` (seconds), or an empty string."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def money(value: float | None) -> str:
    """Dollars with enough digits for a cheap request (`$0.000125`), or `-`."""
    if value is None:
        return "-"
    if value == 0:
        return "$0"
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:.6f}".rstrip("0")


def number(value: float | None) -> str:
    """Thousands separated; at most three decimals for a fraction."""
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


class Renderer:
    """The dashboard's template environment (one per app) and how every page is answered."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("tfy_gateway.gateway.dashboard", "templates"),
            autoescape=True,  # every template, whatever its name
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(utc=utc, money=money, number=number)
        self.env.globals.update(money=money, number=number)

    def render(self, page: Page, **common: Any) -> Response:
        html = self.env.get_template(page.template).render(**common, **page.context)
        response = HTMLResponse(html, status_code=page.status, headers={**page.headers, **SECURITY_HEADERS})
        response.headers["cache-control"] = "no-store"
        return response


def static_file(name: str) -> Response | None:
    """A file shipped in the package's `static/` directory (CSS, the icon), or None."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES:
        return None
    resource = resources.files("tfy_gateway.gateway.dashboard") / "static" / name
    if not resource.is_file():
        return None
    headers = {**SECURITY_HEADERS, "cache-control": "public, max-age=3600"}
    return Response(resource.read_bytes(), media_type=STATIC_TYPES[suffix], headers=headers)
