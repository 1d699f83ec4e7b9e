"""Who is looking at the dashboard: a bearer header, or the session cookie set by the login form.

The cookie carries the token itself, so every worker and replica accepts it and revoking the token
ends the session at once; it is `HttpOnly` (no script can read it), `SameSite=Strict` (no other
site's page sends it), limited to `/ui`, `Secure` when the request came over HTTPS, and expires after
`SESSION_SECONDS`. The pages only read, and the two forms that post (log in, log out) refuse a request
that another origin sent.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.state import get_state

PREFIX = "/ui"
COOKIE = "tfy_dashboard"
SESSION_SECONDS = 8 * 3600
MAX_FORM_BYTES = 16 * 1024


def session_principal(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer` or the session cookie; `ApiError(401)` otherwise."""
    authenticator = get_state(request).authenticator
    headers = request.headers.getlist("authorization")
    if headers:
        if len(headers) > 1:
            raise ApiError(400, "The request carries more than one Authorization header; send exactly one.")
        return authenticator.require(headers[0])
    token = request.cookies.get(COOKIE)
    if not token:
        raise ApiError(401, "Log in with a token to see the dashboard.")
    return authenticator.require(f"Bearer {token}")


def check_same_origin(request: Request) -> None:
    """403 for a form post another site's page sent (the browser says so in Origin / Sec-Fetch-Site)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise ApiError(403, "This form can only be sent from the dashboard itself.")
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        expected = urlsplit(str(request.base_url))
        sent = urlsplit(origin)
        if (sent.scheme, sent.netloc) != (expected.scheme, expected.netloc):
            raise ApiError(403, "This form can only be sent from the dashboard itself.")


async def form_fields(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body (small: a token and a path), first value per name."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise ApiError(413, "The form is too large.")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a dashboard path only (never another site, never `//host`)."""
    if value and value.startswith(PREFIX) and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX


def start_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_SECONDS,
        path=PREFIX,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def end_session(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path=PREFIX, secure=request.url.scheme == "https", httponly=True, samesite="strict")
