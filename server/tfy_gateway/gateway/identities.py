"""Users, personal access tokens and virtual-account tokens.

Tokens are random, shown once, and stored only as sha256 hashes. A PAT is `tfy_<secret>`; a
virtual-account token is `tfy_va_<name>_<secret>`. Team membership comes from `team` manifests
(`members: [emails]`); every user is also in `team:everyone`, virtual accounts are not.

Writes are planned (`plan_*`) against a `ConfigSnapshot` and return the `Change` that makes them so:
the server's `ConfigWriter` commits and installs it, the offline CLI writes it to a store directly
(`write_to_store`). Both share every check.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from tfy_gateway.gateway.auth import (
    TOKEN_PREFIX,
    VIRTUAL_ACCOUNT_TOKEN_PREFIX,
    Authenticator,
    Principal,
    TokenEntry,
    hash_token,
)
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.settings import GatewaySettings
from tfy_gateway.gateway.snapshot import Change, ConfigSnapshot, build_snapshot, parse_resource
from tfy_gateway.gateway.store import (
    ResourceRecord,
    Store,
    TokenRecord,
    Transaction,
    UserRecord,
    utc_now,
)

T = TypeVar("T")

logger = logging.getLogger(__name__)

EVERYONE_TEAM = "everyone"
TEAM_TYPE = "team"
VIRTUAL_ACCOUNT_TYPE = "virtual-account"
ADMIN_FILE_TOKEN_NAME = "admin-token"
ADMIN_ENV_TOKEN_NAME = "admin-env-token"
SYSTEM_SUBJECT = {"subjectId": "system", "subjectType": "user", "subjectSlug": "tfy-gateway"}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_EMAIL = 254  # RFC 5321's limit on a forward path
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
    """A user's email as its subject (`user:<email>`, in logs, metrics and Redis keys): printable,
    at most 254 characters, one `@`; else 422."""
    if len(email) > MAX_EMAIL or not email.isprintable() or not _EMAIL.match(email):
        raise ApiError(
            422,
            f"Invalid email {email[:60]!r}: expected something like alice@example.com (printable, at most "
            f"{MAX_EMAIL} characters).",
        )
    return email.lower()


def check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise ApiError(
            422,
            f"Invalid {what} name {name!r}: use 3-36 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit.",
        )
    return name


def _new_token(owner_kind: str, owner: str, name: str, secret: str, expires_at: str | None = None) -> IssuedToken:
    record = TokenRecord(
        id=new_id("pat" if owner_kind == "user" else "vat"),
        token_hash=hash_token(secret),
        name=name,
        owner_kind=owner_kind,
        owner=owner,
        created_at=utc_now(),
        expires_at=expires_at,
    )
    return IssuedToken(record, secret)


def _issue(
    tx: Transaction, *, owner_kind: str, owner: str, name: str, token: str, expires_at: str | None = None
) -> IssuedToken:
    issued = _new_token(owner_kind, owner, name, token, expires_at)
    tx.insert_token(issued.record)
    return issued


# --- planned writes: each reads a snapshot and returns the `Change` that makes it so -------------


def plan_user_token(
    snapshot: ConfigSnapshot, email: str, name: str, expires_at: str | None = None
) -> tuple[Change, IssuedToken]:
    """A new PAT named `name` for `email`; names are unique per user."""
    email = check_email(email)
    check_name(name, "token")
    if email not in snapshot.users:
        raise ApiError(404, f"No user {email!r}. Add it first with 'tfy-gateway users add {email}'.")
    if any(token.name == name for token in snapshot.tokens_of("user", email)):
        raise ApiError(409, f"User {email} already has a token named {name!r}; choose another name.")
    if expires_at is not None:
        _check_expiry(expires_at)
    issued = _new_token("user", email, name, new_user_token(), expires_at)
    return Change(tokens={issued.record.id: issued.record}), issued


def _check_expiry(expires_at: str) -> None:
    """A token's expiry must be a moment in the future: a past one would make a dead token, an
    unreadable one a token that never expires."""
    moment = _epoch(expires_at)
    if moment is None:
        raise ApiError(422, f"Expiry {expires_at!r} is not an ISO-8601 time; use e.g. 2030-01-01T00:00:00Z.")
    if moment <= datetime.now(timezone.utc).timestamp():
        raise ApiError(422, f"Expiry {expires_at!r} is in the past; give a time in the future, or no expiry.")


def plan_virtual_account_token(
    snapshot: ConfigSnapshot, name: str, grace_minutes: float = 0
) -> tuple[Change, IssuedToken]:
    """Replace the token of virtual account `name` (the caller checks that the account exists or is
    being created in the same change).

    The old token stops working at commit, or `grace_minutes` later (the platform's regenerate
    semantics); tokens whose grace period is over are removed.
    """
    now = datetime.now(timezone.utc)
    tokens: dict[str, TokenRecord | None] = {}
    for old in snapshot.tokens_of("virtualaccount", name):
        ended = old.expires_at is not None and (_epoch(old.expires_at) or 0) <= now.timestamp()
        if grace_minutes <= 0 or ended:
            tokens[old.id] = None
        elif old.expires_at is None:
            until = now + timedelta(minutes=grace_minutes)
            tokens[old.id] = replace(old, expires_at=until.isoformat(timespec="seconds").replace("+00:00", "Z"))
    issued = _new_token("virtualaccount", name, name, new_virtual_account_token(name))
    tokens[issued.record.id] = issued.record
    return Change(tokens=tokens), issued


def plan_revoke(snapshot: ConfigSnapshot, token_id: str, principal: Principal) -> tuple[Change, TokenRecord]:
    """Delete one PAT: users delete their own, admins anyone's."""
    record = snapshot.tokens.get(token_id)
    if record is None or record.owner_kind != "user":
        raise ApiError(404, f"No personal access token with id {token_id!r}.")
    if record.owner != principal.name and not principal.is_admin:
        raise ApiError(403, f"Token {token_id} belongs to another user; you can delete only your own.")
    return Change(tokens={token_id: None}), record


def plan_team_member(snapshot: ConfigSnapshot, team: str, email: str, created_by: Mapping[str, Any]) -> Change:
    """Add `email` to the `team` manifest, creating the team if needed (a new manifest version)."""
    if not _TEAM.match(team):
        raise ApiError(422, f"Invalid team name {team!r}: use lowercase letters, digits and '-' (at most 64).")
    now = utc_now()
    existing = snapshot.get((TEAM_TYPE, team))
    if existing is None:
        manifest: dict[str, Any] = {"name": team, "type": TEAM_TYPE, "members": [email]}
        record = ResourceRecord(new_id("team"), TEAM_TYPE, team, TEAM_TYPE, manifest, dict(created_by), now, now)
    else:
        manifest = dict(existing.manifest)
        members = list(manifest.get("members") or [])
        if email in members:
            return Change()
        manifest["members"] = [*members, email]
        record = replace(existing.record, manifest=manifest, updated_at=now)
    slug = created_by.get("subjectSlug")
    author = f"{created_by.get('subjectType')}:{slug}" if slug else None
    return Change(resources={(TEAM_TYPE, team): parse_resource(record)}, author=author)


@dataclass(frozen=True)
class NewUser:
    """A user added by `plan_user`, with its first token (the secret, shown once)."""

    user: UserRecord
    issued: IssuedToken = field(repr=False)


def plan_user(
    snapshot: ConfigSnapshot,
    email: str,
    *,
    teams: Iterable[str] = (),
    is_admin: bool = False,
    token_name: str = "default",
    created_by: Mapping[str, Any] = SYSTEM_SUBJECT,
) -> tuple[Change, NewUser]:
    """Add a user with a first PAT, and add it to `teams`."""
    email = check_email(email)
    check_name(token_name, "token")
    if email in snapshot.users:
        raise ApiError(409, f"User {email} already exists; create another token with 'tokens create'.")
    user = UserRecord(new_id("user"), email, is_admin, utc_now())
    issued = _new_token("user", email, token_name, new_user_token())
    change = Change(users={email: user}, tokens={issued.record.id: issued.record})
    for team in dict.fromkeys(teams):
        change = change | plan_team_member(snapshot, team, email, created_by)
    return change, NewUser(user, issued)


# --- the same plans, written to a store directly (the offline CLI) -------------------------------


def write_to_store(store: Store, plan: Callable[[ConfigSnapshot], tuple[Change, T]]) -> T:
    """Plan against everything the store holds and commit in one transaction, under the store's write
    lease: no running server or replica can commit in between (a one-shot command can afford to wait)."""
    with store.write_lease():
        contents = store.contents()
        snapshot = build_snapshot(
            contents.resources, version=contents.version, tenant="", users=contents.users, tokens=contents.tokens
        )
        change, result = plan(snapshot)
        with store.transaction(expect_version=contents.version) as tx:
            change.write(tx)
        return result


def create_user(
    store: Store, email: str, *, teams: Iterable[str] = (), is_admin: bool = False, token_name: str = "default"
) -> tuple[UserRecord, IssuedToken]:
    """Add a user with a first PAT, and add it to `teams`; one transaction."""
    added = write_to_store(store, lambda s: plan_user(s, email, teams=teams, is_admin=is_admin, token_name=token_name))
    return added.user, added.issued


def create_user_token(store: Store, email: str, name: str, expires_at: str | None = None) -> IssuedToken:
    return write_to_store(store, lambda s: plan_user_token(s, email, name, expires_at))


def regenerate_virtual_account_token(store: Store, name: str, grace_minutes: float = 0) -> IssuedToken:
    """A new token for the applied virtual account `name` (404 when it is not applied)."""

    def plan(snapshot: ConfigSnapshot) -> tuple[Change, IssuedToken]:
        if snapshot.get((VIRTUAL_ACCOUNT_TYPE, name)) is None:
            raise ApiError(
                404,
                f"No virtual account {name!r}: apply its `virtual-account` manifest first (tfy-gateway apply -f ...).",
            )
        return plan_virtual_account_token(snapshot, name, grace_minutes)

    return write_to_store(store, plan)


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
            clash = tx.token_by_hash(hash_token(token))
            same = clash is not None and (clash.owner_kind, clash.owner, clash.name) == (
                "user",
                email,
                ADMIN_ENV_TOKEN_NAME,
            )
            if same:
                # The same token as at the last start keeps its id: work done as it (batches) goes on.
                return "the TFY_GATEWAY_ADMIN_TOKEN environment variable"
            tx.delete_tokens("user", email, ADMIN_ENV_TOKEN_NAME)
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


def authenticator_for(snapshot: ConfigSnapshot) -> Authenticator:
    """The token map of `snapshot`: part of its compiled configuration, so identities and the
    configuration they are checked against always come from the same version."""
    ids = {r.name: r.id for r in snapshot.of_type_prefix(VIRTUAL_ACCOUNT_TYPE)}
    return Authenticator(token_entries(snapshot.users.values(), snapshot.tokens.values(), snapshot.manifests(), ids))
