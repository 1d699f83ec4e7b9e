"""Bearer token -> `Principal`, without touching the database.

The `Authenticator` holds an immutable map sha256(token) -> principal. It is part of the compiled
configuration (`CompiledConfig.identities`), rebuilt whenever users, teams, tokens or virtual accounts
change and installed with the rest of the configuration in one assignment.
Authenticating a data-plane request therefore costs one sha256, one dict lookup and one
constant-time comparison.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from tfy_gateway.gateway.errors import ApiError

TOKEN_PREFIX = "tfy_"
VIRTUAL_ACCOUNT_TOKEN_PREFIX = "tfy_va_"

PrincipalKind = Literal["user", "virtualaccount"]


@dataclass(frozen=True)
class Principal:
    """Who is calling. `subjects` is what routing, rate-limit and budget rules match against."""

    kind: PrincipalKind
    name: str  # email for users, account name for virtual accounts
    email: str | None
    teams: tuple[str, ...]
    is_admin: bool
    subjects: tuple[str, ...]  # e.g. ("user:a@x", "team:backend", "team:everyone")
    token_name: str
    token_id: str
    id: str = ""  # user id or virtual-account id, for `createdBySubject`

    @property
    def subject(self) -> str:
        """The principal's own subject (`user:<email>` or `virtualaccount:<name>`)."""
        return self.subjects[0]


@dataclass(frozen=True)
class TokenEntry:
    principal: Principal
    token_hash: str
    expires_at: float | None = None  # epoch seconds


def hash_token(token: str) -> str:
    """The only form in which a token is ever stored or kept in memory."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def single_authorization(values: Sequence[str]) -> str | None:
    """The one Authorization header of a request; two or more are a 400 on both planes, since
    proxies disagree on which of them counts."""
    if len(values) > 1:
        raise ApiError(
            400,
            f"The request carries {len(values)} Authorization headers; send exactly one "
            "('Authorization: Bearer tfy_...').",
        )
    return values[0] if values else None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (any whitespace between), or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


class Authenticator:
    """Resolves tokens to principals from an immutable in-memory map."""

    def __init__(self, entries: Mapping[str, TokenEntry] | None = None, *, clock: Callable[[], float] = time.time):
        self._entries: Mapping[str, TokenEntry] = MappingProxyType(dict(entries or {}))
        self._by_id = {entry.principal.token_id: entry for entry in self._entries.values()}
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, token: str) -> Principal | None:
        """The principal for `token`, or None when it is unknown, revoked or expired."""
        digest = hash_token(token)
        entry = self._entries.get(digest)
        if entry is None or not hmac.compare_digest(entry.token_hash, digest):
            return None
        if entry.expires_at is not None and self._clock() >= entry.expires_at:
            return None
        return entry.principal

    def by_token_id(self, token_id: str) -> Principal | None:
        """The principal of the token with this id, or None once it is revoked or expired: the gateway
        acts for a token it does not hold (a batch runs as the token that created it) by its id."""
        entry = self._by_id.get(token_id)
        if entry is None or (entry.expires_at is not None and self._clock() >= entry.expires_at):
            return None
        return entry.principal

    def require(self, authorization: str | None) -> Principal:
        """Authenticate an Authorization header or raise the platform's 401."""
        token = bearer_token(authorization)
        if token is None:
            raise ApiError(
                401,
                "Unauthorized: missing API token. Send the header 'Authorization: Bearer tfy_...' "
                "with a personal access token or a virtual-account token.",
            )
        if not token.startswith(TOKEN_PREFIX):
            raise ApiError(401, "Unauthorized: malformed API token; tokens of this gateway start with 'tfy_'.")
        principal = self.authenticate(token)
        if principal is None:
            raise ApiError(
                401,
                "Unauthorized: the API token is invalid, expired or revoked. Use the token in "
                "<data-dir>/admin-token, or create one with 'tfy-gateway tokens create --user EMAIL'.",
            )
        return principal
