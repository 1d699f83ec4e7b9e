"""Users, personal access tokens and virtual-account tokens.

Tokens are random, shown once, and stored only as sha256 hashes. A PAT is `tfy_<secret>`; a
virtual-account token is `tfy_va_<name>_<secret>`. Team membership comes from `team` manifests
(`members: [emails]`); every user is also in `team:everyone`, virtual accounts are not.

Functions here are synchronous and take a `Store`, so the offline CLI (`tfy-gateway users ...`) and
the server (through `Store.run`) share them.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tfy_gateway.gateway.auth import (
    TOKEN_PREFIX,
    VIRTUAL_ACCOUNT_TOKEN_PREFIX,
    Principal,
    TokenEntry,
    hash_token,
)
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.store import (
    ResourceRecord,
    Store,
    TokenRecord,
    Transaction,
    UserRecord,
    utc_now,
)

logger = logging.getLogger(__name__)

EVERYONE_TEAM = "everyone"
TEAM_TYPE = "team"
VIRTUAL_ACCOUNT_TYPE = "virtual-account"
ADMIN_FILE_TOKEN_NAME = "admin-token"
ADMIN_ENV_TOKEN_NAME = "admin-env-token"
SYSTEM_SUBJECT = {"subjectId": "system", "subjectType": "user", "subjectSlug": "tfy-gateway"}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,34}[a-z0-9]$")
_TEAM = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$")


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: `token` is the secret, to be shown once and then forgotten."""

    record: TokenRecord
    token: str = field(repr=False)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def new_user_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_virtual_account_token(name: str) -> str:
    return f"{VIRTUAL_ACCOUNT_TOKEN_PREFIX}{name}_{secrets.token_urlsafe(32)}"


def subject_of(principal: Principal) -> dict[str, Any]:
    """The platform's `Subject` object for `createdBySubject` fields."""
    return {
        "subjectId": principal.id,
        "subjectType": principal.kind,
        "subjectSlug": principal.name,
        "subjectDisplayName": principal.name,
    }


def check_email(email: str) -> str:
    if not _EMAIL.match(email):
        raise ApiError(422, f"Invalid email {email!r}: expected something like alice@example.com.")
    return email.lower()


def check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ApiError(
            422,
            f"Invalid {what} name {name!r}: use 3-36 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit.",
        )
    return name


def _issue(
    tx: Transaction, *, owner_kind: str, owner: str, name: str, token: str, expires_at: str | None = None
) -> IssuedToken:
    record = TokenRecord(
        id=new_id("pat" if owner_kind == "user" else "vat"),
        token_hash=hash_token(token),
        name=name,
        owner_kind=owner_kind,
        owner=owner,
        created_at=utc_now(),
        expires_at=expires_at,
    )
    tx.insert_token(record)
    return IssuedToken(record, token)


def issue_user_token(tx: Transaction, email: str, name: str, expires_at: str | None = None) -> IssuedToken:
    """Create a PAT named `name` for `email` inside `tx`; names are unique per user."""
    if tx.user(email) is None:
        raise ApiError(404, f"No user {email!r}. Add it first with 'tfy-gateway users add {email}'.")
    if any(token.name == name for token in tx.tokens_of("user", email)):
        raise ApiError(409, f"User {email} already has a token named {name!r}; choose another name.")
    if expires_at is not None:
        _check_expiry(expires_at)
    return _issue(tx, owner_kind="user", owner=email, name=name, token=new_user_token(), expires_at=expires_at)


def _check_expiry(expires_at: str) -> None:
    """A token's expiry must be a moment in the future: a past one would make a dead token, an
    unreadable one a token that never expires."""
    moment = _epoch(expires_at)
    if moment is None:
        raise ApiError(422, f"Expiry {expires_at!r} is not an ISO-8601 time; use e.g. 2030-01-01T00:00:00Z.")
    if moment <= datetime.now(timezone.utc).timestamp():
        raise ApiError(422, f"Expiry {expires_at!r} is in the past; give a time in the future, or no expiry.")


def issue_virtual_account_token(tx: Transaction, name: str, grace_minutes: float = 0) -> IssuedToken:
    """Replace the token of virtual account `name`.

    The old token stops working at commit, or `grace_minutes` later (the platform's regenerate
    semantics); tokens whose grace period is over are removed.
    """
    now = datetime.now(timezone.utc)
    for old in tx.tokens_of("virtualaccount", name):
        ended = old.expires_at is not None and (_epoch(old.expires_at) or 0) <= now.timestamp()
        if grace_minutes <= 0 or ended:
            tx.delete_token(old.id)
        elif old.expires_at is None:
            until = now + timedelta(minutes=grace_minutes)
            tx.expire_token(old.id, until.isoformat(timespec="seconds").replace("+00:00", "Z"))
    return _issue(tx, owner_kind="virtualaccount", owner=name, name=name, token=new_virtual_account_token(name))


def add_to_team(tx: Transaction, team: str, email: str, created_by: Mapping[str, Any]) -> None:
    """Add `email` to the `team` manifest, creating the team if needed (a new manifest version)."""
    if not _TEAM.match(team):
        raise ApiError(422, f"Invalid team name {team!r}: use lowercase letters, digits and '-' (at most 64).")
    now = utc_now()
    existing = tx.resource(TEAM_TYPE, team)
    if existing is None:
        manifest: dict[str, Any] = {"name": team, "type": TEAM_TYPE, "members": [email]}
        record = ResourceRecord(new_id("team"), TEAM_TYPE, team, TEAM_TYPE, manifest, dict(created_by), now, now)
    else:
        manifest = dict(existing.manifest)
        members = list(manifest.get("members") or [])
        if email in members:
            return
        manifest["members"] = [*members, email]
        record = ResourceRecord(
            existing.id, TEAM_TYPE, team, TEAM_TYPE, manifest, existing.created_by, existing.created_at, now
        )
    tx.upsert_resource(record)


def create_user(
    store: Store,
    email: str,
    *,
    teams: Iterable[str] = (),
    is_admin: bool = False,
    token_name: str = "default",
    created_by: Mapping[str, Any] = SYSTEM_SUBJECT,
) -> tuple[UserRecord, IssuedToken]:
    """Add a user with a first PAT, and add it to `teams`; one transaction."""
    email = check_email(email)
    with store.transaction() as tx:
        if tx.user(email) is not None:
            raise ApiError(409, f"User {email} already exists; create another token with 'tokens create'.")
        user = UserRecord(new_id("user"), email, is_admin, utc_now())
        tx.insert_user(user)
        issued = issue_user_token(tx, email, token_name)
        for team in teams:
            add_to_team(tx, team, email, created_by)
    return user, issued


def create_user_token(store: Store, email: str, name: str, expires_at: str | None = None) -> IssuedToken:
    email = check_email(email)
    check_name(name, "token")
    with store.transaction() as tx:
        return issue_user_token(tx, email, name, expires_at)


# --- the admin token --------------------------------------------------------------------------


def _write_secret_file(path: Path, content: str) -> None:
    """Write `content` to `path` with mode 0600, atomically (temp file + rename)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, content.encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def bootstrap_admin(store: Store, settings: GatewaySettings) -> str:
    """Make sure the admin user and its token exist. Returns where the token is (for the log).

    With `settings.admin_token` (TFY_GATEWAY_ADMIN_TOKEN) that token is registered, replacing any
    previous one from the environment. Otherwise the token in `<data-dir>/admin-token` is kept if it
    is still valid, or a new one is created and written there (mode 0600).
    """
    email = settings.admin_email
    with store.transaction() as tx:
        if tx.user(email) is None:
            tx.insert_user(UserRecord(new_id("user"), email, True, utc_now()))
        if settings.admin_token is not None:
            token = settings.admin_token
            if not token.startswith(TOKEN_PREFIX) or len(token) < 12:
                raise ApiError(422, "TFY_GATEWAY_ADMIN_TOKEN must start with 'tfy_' and be at least 12 characters.")
            tx.delete_tokens("user", email, ADMIN_ENV_TOKEN_NAME)
            clash = tx.token_by_hash(hash_token(token))
            if clash is not None:
                tx.delete_token(clash.id)
            _issue(tx, owner_kind="user", owner=email, name=ADMIN_ENV_TOKEN_NAME, token=token)
            return "the TFY_GATEWAY_ADMIN_TOKEN environment variable"
        path = settings.admin_token_path
        if path.exists():
            current = path.read_text(encoding="utf-8").strip()
            record = tx.token_by_hash(hash_token(current)) if current else None
            if record is not None and record.owner == email:
                return str(path)
        tx.delete_tokens("user", email, ADMIN_FILE_TOKEN_NAME)
        issued = _issue(tx, owner_kind="user", owner=email, name=ADMIN_FILE_TOKEN_NAME, token=new_user_token())
    # Written after the commit: a crash in between leaves no file, and the next start makes a new one.
    _write_secret_file(path, issued.token + "\n")
    return str(path)


# --- the authenticator's map ------------------------------------------------------------------


def _epoch(value: str | None, *, end_of_day: bool = False) -> float | None:
    if not value:
        return None
    try:
        if end_of_day and len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return (day + timedelta(days=1)).timestamp()
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def team_memberships(manifests: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """email -> sorted team names, from `team` manifests."""
    teams: dict[str, set[str]] = {}
    for manifest in manifests:
        if manifest.get("type") != TEAM_TYPE:
            continue
        for member in manifest.get("members") or ():
            if isinstance(member, str):
                teams.setdefault(member.lower(), set()).add(str(manifest.get("name")))
    return {email: tuple(sorted(names)) for email, names in teams.items()}


def token_entries(
    users: Iterable[UserRecord],
    tokens: Iterable[TokenRecord],
    manifests: Iterable[Mapping[str, Any]],
    resource_ids: Mapping[str, str] | None = None,
) -> dict[str, TokenEntry]:
    """hash -> TokenEntry for every valid token, given users, tokens and the current manifests."""
    manifests = list(manifests)
    memberships = team_memberships(manifests)
    accounts = {str(m.get("name")): m for m in manifests if m.get("type") == VIRTUAL_ACCOUNT_TYPE}
    by_email = {user.email: user for user in users}
    entries: dict[str, TokenEntry] = {}
    for token in tokens:
        if token.owner_kind == "user":
            user = by_email.get(token.owner)
            if user is None:
                continue
            teams = tuple(t for t in memberships.get(user.email, ()) if t != EVERYONE_TEAM)
            principal = Principal(
                kind="user",
                name=user.email,
                email=user.email,
                teams=(*teams, EVERYONE_TEAM),
                is_admin=user.is_admin,
                subjects=(f"user:{user.email}", *(f"team:{t}" for t in teams), f"team:{EVERYONE_TEAM}"),
                token_name=token.name,
                token_id=token.id,
                id=user.id,
            )
            expires = _epoch(token.expires_at)
        else:
            account = accounts.get(token.owner)
            if account is None:
                continue
            principal = Principal(
                kind="virtualaccount",
                name=token.owner,
                email=None,
                teams=(),
                is_admin=False,
                subjects=(f"virtualaccount:{token.owner}",),
                token_name=token.name,
                token_id=token.id,
                id=(resource_ids or {}).get(token.owner, token.owner),
            )
            ends = [_epoch(token.expires_at), _epoch(account.get("expiration_date"), end_of_day=True)]
            expires = min((e for e in ends if e is not None), default=None)
        entries[token.token_hash] = TokenEntry(principal, token.token_hash, expires)
    return entries
