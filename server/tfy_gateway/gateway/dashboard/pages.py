"""The dashboard's endpoints, built once per app by `endpoints()`; `dashboard/__init__.py` imports this
module (and with it jinja2 and the page builders) on the first `/ui` request.

Each page handler returns a `Page` (template and data); `endpoints()` wraps it once: find the viewer
(session.py; the login form when there is none), turn an `ApiError` into an error page with its
status, render with the security headers (render.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.dashboard.config import config_page, resource_page
from tfy_gateway.gateway.dashboard.limits import limits_page
from tfy_gateway.gateway.dashboard.logs import log_detail, logs_page
from tfy_gateway.gateway.dashboard.overview import overview
from tfy_gateway.gateway.dashboard.render import Page, Renderer, static_file
from tfy_gateway.gateway.dashboard.session import (
    PREFIX,
    check_same_origin,
    end_session,
    form_fields,
    safe_next,
    session_principal,
    start_session,
)
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.state import get_state

Handler = Callable[[Request, Principal], Awaitable[Page]]
Endpoint = Callable[[Request], Awaitable[Response]]

NAVIGATION = (
    ("overview", PREFIX, "Overview"),
    ("logs", f"{PREFIX}/logs", "Logs"),
    ("limits", f"{PREFIX}/limits", "Limits & budgets"),
    ("config", f"{PREFIX}/config", "Config"),
)


def endpoints() -> dict[str, Endpoint]:
    """The dashboard's endpoints by name (see `dashboard.ROUTES`), sharing one template environment
    (made here, not at import)."""
    renderer = Renderer()

    def page(section: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                viewer = session_principal(request)
            except ApiError as exc:
                if exc.status != 401 or request.headers.get("authorization"):
                    return _error(renderer, exc, None)
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{PREFIX}/login?next={quote(target, safe='')}", status_code=303)
            try:
                result = await handler(request, viewer)
            except ApiError as exc:
                return _error(renderer, exc, viewer)
            return renderer.render(result, viewer=viewer, section=section, navigation=NAVIGATION, prefix=PREFIX)

        return endpoint

    async def login_form(request: Request) -> Response:
        return _login(renderer, request.query_params.get("next"), None, 200)

    async def login(request: Request) -> Response:
        try:
            check_same_origin(request)
            fields = await form_fields(request)
        except ApiError as exc:
            return _error(renderer, exc, None)
        token = fields.get("token", "").strip()
        target = safe_next(fields.get("next"))
        try:
            get_state(request).authenticator.require(f"Bearer {token}")
        except ApiError as exc:
            return _login(renderer, target, exc.message, 401)
        response = RedirectResponse(target, status_code=303)
        start_session(response, request, token)
        return response

    async def logout(request: Request) -> Response:
        try:
            check_same_origin(request)
        except ApiError as exc:
            return _error(renderer, exc, None)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        end_session(response, request)
        return response

    async def static(request: Request) -> Response:
        found = static_file(request.path_params["name"])
        return found if found is not None else Response("not found", status_code=404, media_type="text/plain")

    return {
        "overview": page("overview", overview),
        "logs": page("logs", logs_page),
        "log_detail": page("logs", log_detail),
        "limits": page("limits", limits_page),
        "config": page("config", config_page),
        "resource": page("config", resource_page),
        "login_form": login_form,
        "login": login,
        "logout": logout,
        "static": static,
    }


def _login(renderer: Renderer, target: str | None, error: str | None, status: int) -> Response:
    page = Page("login.html.j2", {"next": safe_next(target), "error": error}, status=status)
    return renderer.render(page, viewer=None, section="login", navigation=(), prefix=PREFIX)


def _error(renderer: Renderer, exc: ApiError, viewer: Principal | None) -> Response:
    page = Page("error.html.j2", {"status": exc.status, "message": exc.message}, status=exc.status)
    navigation = NAVIGATION if viewer is not None else ()
    return renderer.render(page, viewer=viewer, section="", navigation=navigation, prefix=PREFIX)
