"""Async client for a TrueFoundry-compatible control plane (the platform, or `tfy-gateway serve`).

It speaks the endpoints the `tfy` CLI uses (`/api/svc/v1/...`), sends manifests the way the CLI does
(top-level None fields removed), computes the dry-run diff the way the CLI does, and turns every
failure into a `ControlPlaneError` whose message says what to do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from tfy_gateway import __version__
from tfy_gateway.manifests.diff import plan_diff, strip_none_fields
from tfy_gateway.platform.errors import (
    AuthenticationError,
    ControlPlaneError,
    NotFoundError,
    PermissionDeniedError,
    ResourceNotFoundError,
    UnreachableError,
    UnsupportedFeatureError,
    ValidationFailed,
)
from tfy_gateway.platform.identities import CreatedToken, NewUser, TokenView, UserView, token_of
from tfy_gateway.platform.settings import ControlPlaneSettings, mask_secret, normalize_base_url

SVC = "/api/svc/v1"
GATEWAY = f"{SVC}/llm-gateway"
_PAGE_SIZE = 100
_MAX_PAGES = 100  # 10,000 items: a guard against a server that never ends its pagination
_VALIDATION_STATUSES = frozenset({400, 409, 413, 422})


@dataclass(frozen=True)
class ApplyOutcome:
    """What an apply (or dry run) did.

    `diff` is the tfy CLI's diff for an update ("" when nothing changes) and, for a resource that does
    not exist yet, the whole manifest as added lines (`plan_diff`).
    """

    name: str
    type: str
    action: str
    existing: dict[str, Any] | None
    diff: str
    data: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def created(self) -> bool:
        return self.existing is None

    @property
    def changed(self) -> bool:
        return self.existing is None or bool(self.diff)


def _error_message(body: Any) -> str | None:
    """The human message of the platform's error envelope (`message`, else `error.message`)."""
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        detail = body.get("detail")
        if isinstance(detail, str) and detail:
            return detail
    return None


def _findings(body: Any, *keys: str) -> list[dict[str, Any]]:
    """Structured findings a server attached to a body (`findings`, or `errors` + `warnings`)."""
    if not isinstance(body, dict):
        return []
    found: list[dict[str, Any]] = []
    for holder in (body, body.get("error")):
        if isinstance(holder, dict):
            for key in keys:
                items = holder.get(key)
                if isinstance(items, list):
                    found += [item for item in items if isinstance(item, dict) and item not in found]
    return found


class ControlPlaneClient:
    """`async with ControlPlaneClient(url, key) as cp: await cp.apply(manifest, dry_run=True)`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url, _ = normalize_base_url(base_url)
        self._api_key = api_key
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"tfy-gateway/{__version__}",
                "Accept": "application/json",
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls, settings: ControlPlaneSettings, *, timeout: float = 30.0) -> ControlPlaneClient:
        return cls(settings.base_url, settings.api_key, timeout=timeout)

    @classmethod
    def from_env(cls, *, timeout: float = 30.0) -> ControlPlaneClient:
        """Build from TFY_BASE_URL/TFY_HOST/TFY_API_HOST and TFY_API_KEY (ConfigurationError if unset)."""
        return cls.from_settings(ControlPlaneSettings.from_env(), timeout=timeout)

    def __repr__(self) -> str:
        return f"ControlPlaneClient(base_url={self.base_url!r}, api_key={mask_secret(self._api_key)!r})"

    async def __aenter__(self) -> ControlPlaneClient:
        await self._http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- endpoints -------------------------------------------------------------------------------

    async def session(self) -> dict[str, Any]:
        """Who the key belongs to (`user`, tenant); the cheapest way to check URL and key."""
        return await self._json_object("GET", f"{SVC}/session", doing="check the session")

    async def apply(self, manifest: dict[str, Any], *, dry_run: bool) -> ApplyOutcome:
        """PUT /apply as the CLI sends it; a dry run changes nothing and still returns the diff."""
        sent = strip_none_fields(manifest)
        type_ = str(sent.get("type") or "")
        name = str(sent.get("name") or type_)
        body = await self._json_object(
            "PUT",
            f"{SVC}/apply",
            json={"manifest": sent, "dryRun": dry_run},
            doing=f"{'dry-run ' if dry_run else ''}apply {name} ({type_})",
        )
        existing = body.get("existingManifest")
        existing = existing if isinstance(existing, dict) and existing else None
        action = body.get("action")
        if action not in ("CREATE", "UPDATE"):
            action = "UPDATE" if existing else "CREATE"
        data = body.get("data")
        return ApplyOutcome(
            name=name,
            type=type_,
            action=str(action),
            existing=existing,
            diff=plan_diff(existing, sent),
            data=data if isinstance(data, dict) else {},
            dry_run=dry_run,
            warnings=_findings(body, "warnings"),
        )

    async def delete(self, manifest: dict[str, Any]) -> None:
        """POST /delete with the manifest identifying the resource (type and name)."""
        sent = strip_none_fields(manifest)
        label = f"{sent.get('name') or sent.get('type')} ({sent.get('type')})"
        await self._request("POST", f"{SVC}/delete", json={"manifest": sent}, doing=f"delete {label}")

    async def get_config(self, config_type: str) -> dict[str, Any] | None:
        """The current manifest of a singleton gateway config, or None when none is applied."""
        try:
            body = await self._request("GET", f"{GATEWAY}/config/{config_type}", doing=f"get {config_type}")
        except ResourceNotFoundError:
            return None
        if not isinstance(body, dict):
            return None
        payload = body if "manifest" in body else body.get("data")
        if not isinstance(payload, dict):
            return None
        manifest = payload.get("manifest")
        return manifest if isinstance(manifest, dict) and manifest else None

    async def list_configs(self, config_type: str) -> list[dict[str, Any]]:
        """Manifests of a named V2 config type (tenant-budget-config, tenant-rate-limit-config/model...)."""
        try:
            body = await self._request("GET", f"{GATEWAY}/config/{config_type}", doing=f"list {config_type}")
        except ResourceNotFoundError:
            return []
        items = body.get("data") if isinstance(body, dict) else body
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            return []
        manifests = [item.get("manifest") for item in items if isinstance(item, dict)]
        return [m for m in manifests if isinstance(m, dict) and m]

    async def list_provider_accounts(self) -> list[dict[str, Any]]:
        """Manifests of every provider account (following pagination)."""
        items = await self._list(f"{SVC}/provider-accounts", doing="list provider accounts")
        return [item["manifest"] if isinstance(item.get("manifest"), dict) else item for item in items]

    async def list_virtual_accounts(self) -> list[dict[str, Any]]:
        """Manifests of every virtual account (following pagination)."""
        items = await self._list(f"{SVC}/virtual-accounts", doing="list virtual accounts")
        return [item["manifest"] for item in items if isinstance(item.get("manifest"), dict)]

    async def list_teams(self) -> list[dict[str, Any]]:
        """Manifests of every team (following pagination)."""
        items = await self._list(f"{SVC}/teams", doing="list teams")
        return [item["manifest"] for item in items if isinstance(item.get("manifest"), dict)]

    async def list_models(self) -> list[dict[str, Any]]:
        """The data plane's OpenAI-style model list (`data` of GET /api/llm/models)."""
        body = await self._json_object("GET", "/api/llm/models", doing="list models")
        data = body.get("data")
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []

    # -- users and tokens ------------------------------------------------------------------------

    async def create_user(
        self, email: str, *, teams: Sequence[str] = (), is_admin: bool = False, token_name: str | None = None
    ) -> NewUser:
        """Add a user (admin key) with a first token, returned this once; 409 if it exists."""
        body: dict[str, Any] = {"email": email, "teams": list(teams), "isAdmin": is_admin}
        if token_name is not None:
            body["tokenName"] = token_name
        doing = f"add user {email}"
        answer = await self._json_object("POST", f"{SVC}/users", json=body, doing=doing, unsupported="adding users")
        data = answer.get("data")
        user = UserView.from_wire(data if isinstance(data, dict) else {}, doing=doing)
        return NewUser(user=user, token=token_of(answer, doing=doing))

    async def list_users(self) -> list[UserView]:
        """Every user of the tenant (following pagination)."""
        return [UserView.from_wire(item) for item in await self._list(f"{SVC}/users", doing="list users")]

    async def create_personal_access_token(
        self, name: str, *, expiration_date: str | None = None, user_email: str | None = None
    ) -> CreatedToken:
        """A new PAT for the caller, or for `user_email` (admin key); the secret is returned this once."""
        body = _present({"name": name, "expirationDate": expiration_date, "userEmail": user_email})
        doing = f"create token {name}" + (f" for {user_email}" if user_email else "")
        answer = await self._json_object("POST", f"{SVC}/personal-access-tokens", json=body, doing=doing)
        return CreatedToken.from_wire(answer, doing=doing)

    async def get_team(self, name: str) -> dict[str, Any] | None:
        """The `team` manifest named `name`, or None when there is none."""
        try:
            body = await self._json_object("GET", f"{SVC}/teams/{quote(name, safe='')}", doing=f"get team {name}")
        except ResourceNotFoundError:
            return None
        data = body.get("data")
        manifest = data.get("manifest") if isinstance(data, dict) else None
        return manifest if isinstance(manifest, dict) and manifest else None

    async def list_tokens(self, *, user: str | None = None, virtual_account: str | None = None) -> list[TokenView]:
        """Every token's metadata (admin key), optionally only a user's or a virtual account's."""
        params = _present({"user": user, "virtualAccount": virtual_account})
        items = await self._list(f"{SVC}/tokens", doing="list tokens", params=params, unsupported="token listing")
        return [TokenView.from_wire(item) for item in items]

    async def delete_personal_access_token(self, token_id: str) -> None:
        """Revoke a PAT by id: one's own, or anyone's with an admin key."""
        path = f"{SVC}/personal-access-tokens/{quote(token_id, safe='')}"
        await self._request("DELETE", path, doing=f"delete token {token_id}")

    async def regenerate_virtual_account_token(self, account: str, *, grace_minutes: float = 0) -> str:
        """A new token for a virtual account (id or name), returned this once; the old one keeps working
        `grace_minutes` longer. ResourceNotFoundError when no such account is applied."""
        answer = await self._json_object(
            "POST",
            f"{SVC}/virtual-accounts/{quote(account, safe='')}/regenerate-token",
            json={"gracePeriodInMinutes": grace_minutes},
            doing=f"regenerate the token of virtual account {account}",
        )
        return token_of(answer, doing="regenerate a token")

    # -- the gateway's own views (optional: a control plane without them answers 404) ------------

    async def explain(
        self,
        subject: str,
        model: str,
        metadata: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """How a request from `subject` for `model` would be routed, without sending it upstream."""
        body: dict[str, Any] = {"subject": subject, "model": model, "metadata": dict(metadata or {})}
        if headers:
            body["headers"] = {name.lower(): value for name, value in headers.items()}
        return await self._json_object(
            "POST", f"{GATEWAY}/explain", json=body, doing="explain routing", unsupported="explain"
        )

    async def query_logs(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        model: str | None = None,
        subject: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        trace_id: str | None = None,
        blocked: bool = False,
        guardrail: str | None = None,
    ) -> dict[str, Any]:
        """Request logs, newest first: the list envelope `{data, pagination}` (None filters are omitted).

        `status` is a code ("429"), a class ("5xx"), "error" or "success"; `since`/`until` a duration
        ago ("15m", "7d") or an ISO-8601 time; `trace_id` the request's W3C trace id; `blocked`: only
        requests a guardrail blocked; `guardrail`: only requests that guardrail checked. Admins see every
        record, other keys their own.
        """
        params = {"limit": limit, "offset": offset, "model": model, "subject": subject}
        params |= {"status": status, "since": since, "until": until, "trace_id": trace_id, "guardrail": guardrail}
        if blocked:
            params["blocked"] = "true"
        return await self._json_object(
            "GET", f"{GATEWAY}/logs", params=_present(params), doing="read request logs", unsupported="request logs"
        )

    async def limit_usage(self, kind: str, *, rule: str | None = None) -> dict[str, Any]:
        """Every entity of each rate-limit (`kind` "rate-limit") or budget ("budget") rule, with what
        its current window holds: `{"matched": [...]}`."""
        return await self._json_object(
            "GET",
            f"{GATEWAY}/config/{kind}/usage",
            params=_present({"rule": rule}),
            doing=f"read {kind} usage",
            unsupported=f"{kind} usage",
        )

    async def usage_summary(
        self,
        *,
        model: str | None = None,
        subject: str | None = None,
        since: str | None = None,
        until: str | None = None,
        blocked: bool = False,
    ) -> dict[str, Any]:
        """Requests, tokens and cost in total, per model and per subject (the server's default window);
        `blocked`: only requests a guardrail blocked."""
        params = _present({"model": model, "subject": subject, "since": since, "until": until})
        if blocked:
            params["blocked"] = "true"
        return await self._json_object(
            "GET", f"{GATEWAY}/usage/summary", params=params, doing="summarise usage", unsupported="usage summaries"
        )

    async def list_alerts(
        self,
        *,
        limit: int | None = None,
        offset: int | None = None,
        status: str | None = None,
        config: str | None = None,
        rule_id: str | None = None,
    ) -> dict[str, Any]:
        """Budget alerts with per-target delivery status, newest first: the list envelope `{data, pagination}`."""
        params = _present({"limit": limit, "offset": offset, "status": status, "config": config, "rule_id": rule_id})
        return await self._json_object(
            "GET", f"{GATEWAY}/alerts", params=params, doing="list budget alerts", unsupported="budget alerts"
        )

    # -- plumbing --------------------------------------------------------------------------------

    async def _list(
        self,
        path: str,
        *,
        doing: str,
        params: dict[str, Any] | None = None,
        unsupported: str | None = None,
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in range(_MAX_PAGES):
            paging = {**(params or {}), "limit": _PAGE_SIZE, "offset": page * _PAGE_SIZE}
            body = await self._json_object("GET", path, params=paging, doing=doing, unsupported=unsupported)
            data = body.get("data")
            batch = [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
            items.extend(batch)
            total = (body.get("pagination") or {}).get("total")
            if len(batch) < _PAGE_SIZE or not isinstance(total, int) or len(items) >= total:
                break
        return items

    async def _json_object(
        self,
        method: str,
        path: str,
        *,
        doing: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        unsupported: str | None = None,
    ) -> dict[str, Any]:
        body = await self._request(method, path, json=json, params=params, doing=doing, unsupported=unsupported)
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ControlPlaneError(
                f"unexpected response to {doing} from {self.base_url}{path}: expected a JSON object",
                hint="is TFY_BASE_URL a TrueFoundry-compatible control plane?",
            )
        return body

    async def _request(
        self,
        method: str,
        path: str,
        *,
        doing: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        unsupported: str | None = None,
    ) -> Any:
        """`unsupported` names the feature of an optional endpoint: its 404 is UnsupportedFeatureError."""
        response = await self._send(method, path, json=json, params=params)
        body = _decode(response)
        if response.status_code in (404, 405) and unsupported:
            raise UnsupportedFeatureError(
                f"the control plane at {self.base_url} does not serve {unsupported} "
                f"({response.status_code} for {method} {path})",
                feature=unsupported,
                hint="it is older than this endpoint or not a tfy-gateway: use `tfy-gateway serve` (or a "
                "version that serves it), and check that TFY_BASE_URL is the bare origin",
            )
        if response.status_code == 404 and path != f"{SVC}/session":
            # A 404 means a wrong TFY_BASE_URL or a missing resource: if the session endpoint
            # answers, the URL is right (a wrong one raises NotFoundError from there).
            await self.session()
            message = _error_message(body)
            raise ResourceNotFoundError(
                f"cannot {doing}: not found on {self.base_url} (404)"
                + (f": {self._scrub(message)}" if message else ""),
                status=404,
            )
        self._raise_for_status(response, body, doing=doing)
        return body

    async def _send(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        try:
            return await self._http.request(method, path, json=json, params=params)
        except httpx.TimeoutException as exc:
            raise UnreachableError(
                f"could not reach the control plane at {self.base_url}: timed out ({type(exc).__name__})",
                hint="is the gateway running (`tfy-gateway serve`) and TFY_BASE_URL right?",
            ) from None
        except (httpx.TransportError, OSError) as exc:
            raise UnreachableError(
                f"could not reach the control plane at {self.base_url}: is the gateway running "
                f"(`tfy-gateway serve`)? ({self._scrub(str(exc)) or type(exc).__name__})",
                hint="check TFY_BASE_URL (host and port) and that the server is up",
            ) from None

    def _raise_for_status(self, response: httpx.Response, body: Any, *, doing: str) -> None:
        status = response.status_code
        if status < 300:
            return
        server_message = _error_message(body)
        said = f" (server said: {self._scrub(server_message)})" if server_message else ""
        if status < 400:
            location = response.headers.get("location", "")
            raise ControlPlaneError(
                f"the control plane at {self.base_url} redirected {doing} to {location!r} ({status})",
                status=status,
                hint="set TFY_BASE_URL to the final origin (e.g. https:// instead of http://)",
            )
        if status == 401:
            raise AuthenticationError(
                f"the control plane at {self.base_url} rejected TFY_API_KEY (401): check the key / "
                f"create a new PAT{said}",
                status=status,
                hint="for a local gateway the admin token is in <data-dir>/admin-token",
            )
        if status == 403:
            raise PermissionDeniedError(
                f"TFY_API_KEY is valid but not allowed to {doing} on {self.base_url} (403){said}",
                status=status,
                hint="use the key of a user or virtual account with that permission (e.g. a tenant admin)",
            )
        if status == 404:
            raise NotFoundError(
                f"no such endpoint at {self.base_url}: is TFY_BASE_URL the bare origin of the control "
                f"plane (no path)? (404 for {response.request.method} {response.request.url.path}){said}",
                status=status,
            )
        if status in _VALIDATION_STATUSES:
            raise ValidationFailed(
                self._scrub(server_message) if server_message else f"{doing} was refused ({status})",
                status=status,
                findings=_findings(body, "findings", "errors", "warnings"),
            )
        if status >= 500:
            raise ControlPlaneError(
                f"the control plane at {self.base_url} failed to {doing} ({status}){said}",
                status=status,
                hint="retry later; if it persists, look at the server's log",
            )
        raise ControlPlaneError(
            f"the control plane at {self.base_url} answered {status} to {doing}{said}", status=status
        )

    def _scrub(self, text: str) -> str:
        """Never echo the key, even if a server or an exception quotes it back."""
        if self._api_key and self._api_key in text:
            text = text.replace(self._api_key, mask_secret(self._api_key))
        return text[:2000]


def _present(params: dict[str, Any]) -> dict[str, Any]:
    """Query parameters without the filters left unset."""
    return {key: value for key, value in params.items() if value is not None}


class _NotJson:
    """A 2xx body that is not JSON (e.g. a login page): never a valid control-plane answer."""


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        if response.status_code < 400:
            return _NotJson()
        text = response.text.strip()
        return {"message": text[:500]} if text and len(text) <= 500 else None
