"""Vertex AI's OAuth access token, from a service-account key (or a Workload Identity Federation file),
obtained and refreshed by google-auth (`pip install 'tfy-gateway[vertex]'`).

google-auth builds and signs the grant (an RS256 JWT for a service account) and reads Google's token
answer; its blocking `refresh` runs in a worker thread, and the one HTTP exchange it makes goes
through the gateway's own `Transport` (`_TransportRequest`), so it obeys the same timeouts, is served
in process in tests, and offline is answered by the fake provider: `token_origin` replaces the
scheme and host of every URL google-auth calls. A token is reused until google-auth says it is no
longer valid (it refreshes a few minutes before expiry); one refresh at a time per key. Built when a
config is applied (a malformed key is a config error then), so each applied config refreshes once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from tfy_gateway.gateway.errors import ConfigError
from tfy_gateway.gateway.providers.base import UpstreamError, redact
from tfy_gateway.gateway.providers.timeouts import Timeouts
from tfy_gateway.gateway.providers.transport import HttpRequest, Transport, TransportError

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
EXTRA_HINT = "install the optional extra: pip install 'tfy-gateway[vertex]'"
TOKEN_TIMEOUT_S = 30.0


class VertexCredentialsError(ConfigError, ValueError):
    """The key file cannot be used (not JSON, not a Google credential, or google-auth is missing)."""


def key_info(content: str | Mapping[str, Any], where: str) -> dict[str, Any]:
    """`key_file_content` (the JSON text or its object) as a dict; the error never quotes the key."""
    if isinstance(content, Mapping):
        return dict(content)
    try:
        info = json.loads(content)
    except ValueError:
        raise VertexCredentialsError(f"{where}: key_file_content is not JSON (a Google credential file)") from None
    if not isinstance(info, dict):
        raise VertexCredentialsError(f"{where}: key_file_content is not a JSON object")
    return info


class _Answer:
    """google-auth's `transport.Response`, from the gateway's transport."""

    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self.status = status
        self.headers = headers
        self.data = data


class _TransportRequest:
    """google-auth's `transport.Request` over the gateway's async transport, called from a worker thread."""

    def __init__(self, transport: Transport, loop: asyncio.AbstractEventLoop, origin: str | None) -> None:
        self._transport = transport
        self._loop = loop
        self._origin = origin

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> _Answer:
        from google.auth import exceptions

        if method.upper() != "POST":  # token grants and exchanges are POSTs; the transport posts only
            raise exceptions.TransportError(  # type: ignore[no-untyped-call]
                f"{method} is not supported by the gateway's token transport"
            )
        if self._origin:
            parts = urlsplit(url)
            url = self._origin.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
        request = HttpRequest(
            url, dict(headers or {}), body or b"", timeouts=Timeouts.within(timeout or TOKEN_TIMEOUT_S)
        )
        future = asyncio.run_coroutine_threadsafe(self._transport.post(request), self._loop)
        try:
            answer = future.result()
        except TransportError as exc:
            raise exceptions.TransportError(exc.detail) from None  # type: ignore[no-untyped-call]
        return _Answer(answer.status, answer.headers, answer.body)


def _load(info: Mapping[str, Any], where: str, kind: str) -> Any:
    """google-auth credentials of exactly the type the auth_data names (never a type the file picks:
    google-auth's generic loader is deprecated for that reason)."""
    try:
        from google.auth import exceptions, identity_pool
        from google.oauth2 import service_account
    except ImportError:
        raise VertexCredentialsError(f"{where}: a Vertex key file needs google-auth: {EXTRA_HINT}") from None
    expected = "service_account" if kind == "key-file" else "external_account"
    if info.get("type") != expected:
        raise VertexCredentialsError(
            f"{where}: auth_data type {kind} takes a credential file of type {expected!r}, "
            f"not {str(info.get('type'))!r}"
        )
    source = info.get("credential_source")
    if expected == "external_account" and not (isinstance(source, dict) and "file" in source):
        # A URL source is read with a GET; the gateway's transport posts only.
        raise VertexCredentialsError(
            f"{where}: only file-sourced workload identity federation is supported by the local gateway"
        )
    try:
        if expected == "service_account":
            return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                dict(info), scopes=[SCOPE]
            )
        return identity_pool.Credentials.from_info(dict(info), scopes=[SCOPE])  # type: ignore[no-untyped-call]
    except (exceptions.GoogleAuthError, ValueError, KeyError) as exc:
        # google-auth's message names the missing field or the bad value's kind, never the key itself.
        raise VertexCredentialsError(f"{where}: not a usable Google credential: {exc}") from None


class VertexTokenSource:
    """A `TokenSource`: `Bearer <token>` for Vertex calls, from google-auth credentials."""

    def __init__(
        self, info: Mapping[str, Any], where: str, *, kind: str = "key-file", token_origin: str | None = None
    ) -> None:
        """`kind`: the auth_data type, `key-file` (a service account) or `workload-identity-federation-file`."""
        self._credentials = _load(info, where, kind)
        self._info = dict(info)
        self._where = where
        self._kind = kind
        self._origin = token_origin
        self._lock: asyncio.Lock | None = None
        self.refreshes = 0  # token requests made: what tests and the log can show

    def offline(self, origin: str) -> VertexTokenSource:
        """The same key, its token requests answered at `origin` (the fake provider) instead of Google."""
        return VertexTokenSource(self._info, self._where, kind=self._kind, token_origin=origin)

    async def authorization(self, transport: Transport) -> str:
        credentials = self._credentials
        if not credentials.valid:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if not credentials.valid:  # another call may have refreshed it meanwhile
                    await self._refresh(transport)
        return f"Bearer {credentials.token}"

    async def _refresh(self, transport: Transport) -> None:
        from google.auth import exceptions

        request = _TransportRequest(transport, asyncio.get_running_loop(), self._origin)
        self.refreshes += 1
        try:
            await asyncio.to_thread(self._credentials.refresh, request)
        except exceptions.GoogleAuthError as exc:
            # A refused grant names the reason (invalid_grant, ...); the key and the token stay out of it.
            message = redact(f"could not obtain a Vertex access token for {self._where}: {exc}")
            failed = UpstreamError(502, message, "google-vertex", error_type="credentials_error")
            failed.reached = False  # the model was never called: nothing to charge
            raise failed from None
