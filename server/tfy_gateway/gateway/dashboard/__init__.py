"""The dashboard: server-rendered pages under `/ui` over the same query layer as the JSON APIs.

Overview (`/ui`), logs (`/ui/logs`, `/ui/logs/{id}`), limits and budgets (`/ui/limits`), config
(`/ui/config`, `/ui/config/resource?kind=&name=&from=&to=`), the login form (`/ui/login`, `/ui/logout`)
and the stylesheet and icon (`/ui/static/...`). Each page handler returns a `Page` (template and data);
`pages.endpoints()` wraps it once: find the viewer (session.py; the login form when there is none), turn an
`ApiError` into an error page with its status, render with the security headers (render.py).
The admin token sees everything; a user's token its own logs, usage and counters; a virtual
account's token its account's. `references/dashboard.md` has the screenshots and the details.

The routes are declared here and their endpoints built on the first request (`pages.py`): jinja2 and
the page builders are a tenth of the gateway's start-up, and most gateways never serve a page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tfy_gateway.gateway.dashboard.session import PREFIX

Endpoint = Callable[[Request], Awaitable[Response]]

ROUTES = (
    (PREFIX, "GET", "overview"),
    (f"{PREFIX}/", "GET", "overview"),
    (f"{PREFIX}/logs", "GET", "logs"),
    (f"{PREFIX}/logs/{{id}}", "GET", "log_detail"),
    (f"{PREFIX}/limits", "GET", "limits"),
    (f"{PREFIX}/config", "GET", "config"),
    (f"{PREFIX}/config/resource", "GET", "resource"),
    (f"{PREFIX}/login", "GET", "login_form"),
    (f"{PREFIX}/login", "POST", "login"),
    (f"{PREFIX}/logout", "POST", "logout"),
    (f"{PREFIX}/static/{{name}}", "GET", "static"),
)
"""(path, method, endpoint name in `pages.endpoints()`)."""


class _Endpoints:
    """One app's dashboard endpoints, built on first use."""

    def __init__(self) -> None:
        self._built: dict[str, Endpoint] | None = None

    def get(self, name: str) -> Endpoint:
        if self._built is None:
            from tfy_gateway.gateway.dashboard.pages import endpoints

            self._built = endpoints()
        return self._built[name]


def routes() -> list[BaseRoute]:
    endpoints = _Endpoints()

    def lazy(name: str) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            return await endpoints.get(name)(request)

        return endpoint

    return [Route(path, lazy(name), methods=[method]) for path, method, name in ROUTES]
