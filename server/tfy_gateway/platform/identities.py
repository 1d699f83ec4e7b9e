"""Typed views of a control plane's users and tokens, as `ControlPlaneClient` returns them.

Secrets are fields with `repr=False`: a view that ends up in a log or a traceback never shows one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tfy_gateway.platform.errors import ControlPlaneError


def _text(body: Mapping[str, Any], key: str, doing: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ControlPlaneError(
            f"unexpected response to {doing}: no {key!r} string in it",
            hint="is TFY_BASE_URL a tfy-gateway or TrueFoundry control plane?",
        )
    return value


def _optional_text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) and value else None


def token_of(body: Mapping[str, Any], *, doing: str) -> str:
    """The secret of an answer that issued a token (`{"token": "tfy_..."}`)."""
    return _text(body, "token", doing)


@dataclass(frozen=True)
class UserView:
    """A user as `GET /api/svc/v1/users` lists it; `teams` includes `everyone`."""

    id: str
    email: str
    is_admin: bool
    teams: tuple[str, ...]
    created_at: str | None = None

    @classmethod
    def from_wire(cls, item: Mapping[str, Any], *, doing: str = "list users") -> UserView:
        teams = item.get("teams")
        return cls(
            id=_text(item, "id", doing),
            email=_text(item, "email", doing),
            is_admin=item.get("isAdmin") is True,
            teams=tuple(t for t in teams if isinstance(t, str)) if isinstance(teams, list) else (),
            created_at=_optional_text(item, "createdAt"),
        )


@dataclass(frozen=True)
class TokenView:
    """A token's metadata (never its secret nor its hash); `owner_kind` is "user" or "virtualaccount"."""

    id: str
    name: str
    owner_kind: str
    owner: str
    created_at: str | None = None
    expires_at: str | None = None

    @property
    def subject(self) -> str:
        """The subject the token authenticates as: `user:<email>` or `virtualaccount:<name>`."""
        return f"{self.owner_kind}:{self.owner}"

    @classmethod
    def from_wire(cls, item: Mapping[str, Any], *, doing: str = "list tokens") -> TokenView:
        owner_kind = _text(item, "ownerKind", doing)
        if owner_kind not in ("user", "virtualaccount"):
            raise ControlPlaneError(f"unexpected response to {doing}: ownerKind {owner_kind!r}")
        return cls(
            id=_text(item, "id", doing),
            name=_text(item, "name", doing),
            owner_kind=owner_kind,
            owner=_text(item, "owner", doing),
            created_at=_optional_text(item, "createdAt"),
            expires_at=_optional_text(item, "expiresAt"),
        )


@dataclass(frozen=True)
class CreatedToken:
    """A token just created: the secret, shown this once, and the id that deletes it."""

    token: str = field(repr=False)
    id: str | None
    name: str

    @classmethod
    def from_wire(cls, body: Mapping[str, Any], *, doing: str) -> CreatedToken:
        return cls(token=token_of(body, doing=doing), id=_optional_text(body, "id"), name=_text(body, "name", doing))


@dataclass(frozen=True)
class NewUser:
    """A user just added and its first token (shown this once)."""

    user: UserView
    token: str = field(repr=False)
