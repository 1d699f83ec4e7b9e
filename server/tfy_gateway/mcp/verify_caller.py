"""Who a verification sends as: a caller the rule applies to, or why there is none.

A rule for `team:backend` says nothing about requests from an admin outside the team: sending as the
configured key proves nothing and costs as much as a real test. So a verification picks, without
writing anything (`plan_caller`), and then acts as (`acting_as`):
1. the key's own user, when a subject covers it (`*`, `team:everyone`, `user:<it>`, a team it is in);
2. for `team:<t>`, a temporary user in that team (`POST /users`, its first token), whose token is
   revoked and which is taken out of the team afterwards. It has counters of its own, so the per-user
   limits of real members are untouched (a limit shared by the whole team is not);
3. for `user:<email>` (a user that exists), a temporary token of that user (`POST
   /personal-access-tokens` with `userEmail`), revoked afterwards; that user's own counters are spent.
Otherwise (a virtual account, a control plane without these endpoints such as the platform, a key that
is not an admin) there is no caller, and the verification answers `unverified` with the reason.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, Literal

from tfy_gateway.platform import (
    ControlPlaneClient,
    ControlPlaneError,
    ControlPlaneSettings,
    PermissionDeniedError,
    UnsupportedFeatureError,
)

logger = logging.getLogger(__name__)

TEMPORARY_DOMAIN = "verify.tfy-gateway.invalid"  # `.invalid`: never a real mailbox (RFC 2606)
TOKEN_NAME = "tfy-gateway-verify"

CallerKind = Literal["self", "temporary_member", "temporary_token"]


@dataclass(frozen=True)
class CallerPlan:
    """How the requests will be sent; nothing has been created yet."""

    kind: CallerKind
    subject: str  # the rule subject the caller stands for
    email: str  # the key's own user, the user to act as, or the temporary user to create
    team: str | None = None

    @property
    def description(self) -> str:
        if self.kind == "self":
            return f"the configured key's user ({self.email}), whom {self.subject} covers"
        if self.kind == "temporary_member":
            return (
                f"a temporary user of team {self.team} ({self.email}), made for this check: its token is revoked "
                "and it leaves the team afterwards (the user record stays, with no token and no team)"
            )
        return f"{self.email} with a temporary token, revoked afterwards ({self.email}'s own counters are spent)"


@dataclass(frozen=True)
class NoCaller:
    """Why no request can be sent as someone the rule applies to."""

    reason: str


def _me(session: dict[str, Any]) -> tuple[str, set[str]]:
    user = session.get("user") if isinstance(session.get("user"), dict) else {}
    assert isinstance(user, dict)
    email = str(user.get("email") or user.get("username") or "")
    teams = user.get("teams")
    return email.lower(), {str(t) for t in teams} if isinstance(teams, list) else set()


def _covers_me(subject: str, email: str, teams: set[str]) -> bool:
    kind, _, value = subject.partition(":")
    if subject == "*" or subject == "team:everyone":
        return True
    if kind == "user":
        return value.lower() == email
    return kind == "team" and value in teams


async def plan_caller(client: ControlPlaneClient, subjects: Sequence[str] | None) -> CallerPlan | NoCaller:
    """The caller to send as for a rule over `subjects` (none: every caller); reads only."""
    wanted = list(subjects or ["*"])
    email, teams = _me(await client.session())
    for subject in wanted:
        if _covers_me(subject, email, teams):
            return CallerPlan("self", subject, email)
    reasons = []
    for subject in wanted:
        kind, _, value = subject.partition(":")
        if kind == "team" and value:
            temporary = f"tfy-verify-{secrets.token_hex(4)}@{TEMPORARY_DOMAIN}"
            return CallerPlan("temporary_member", subject, temporary, team=value)
        if kind == "user" and value:
            try:
                users = {user.email.lower() for user in await client.list_users()}
            except UnsupportedFeatureError:
                reasons.append(f"this control plane does not list users, so {subject} cannot be acted as")
                continue
            if value.lower() in users:
                return CallerPlan("temporary_token", subject, value.lower())
            reasons.append(f"there is no user {value} on this gateway (add one with `tfy-gateway users add`)")
        elif kind == "virtualaccount":
            reasons.append(
                f"{subject} cannot be acted as: a new token of a virtual account would replace the one it uses"
            )
        else:
            reasons.append(f"{subject!r} is not a subject a caller can be made for")
    who = f"the configured key's user ({email})" if email else "the configured key's user"
    return NoCaller(f"{who} is not among the rule's subjects ({', '.join(wanted)}), and " + "; ".join(reasons))


@asynccontextmanager
async def acting_as(
    client: ControlPlaneClient, settings: ControlPlaneSettings, plan: CallerPlan
) -> AsyncIterator[ControlPlaneSettings]:
    """Settings whose key is the planned caller's; whatever was made for it is undone on the way out.

    Raises `CallerUnavailable` when the control plane refuses to make the caller."""
    if plan.kind == "self":
        yield settings
        return
    try:
        if plan.kind == "temporary_member":
            assert plan.team is not None
            before = await client.get_team(plan.team)
            added = await client.create_user(plan.email, teams=[plan.team], token_name=TOKEN_NAME)
            token = added.token
        else:
            created = await client.create_personal_access_token(
                f"{TOKEN_NAME}-{secrets.token_hex(3)}", user_email=plan.email
            )
            token = created.token
    except (UnsupportedFeatureError, PermissionDeniedError) as exc:
        raise CallerUnavailable(_unavailable(plan, exc)) from None
    try:
        as_caller = replace(settings, api_key=token)
        async with ControlPlaneClient.from_settings(as_caller) as check:
            who, _ = _me(await check.session())
        if who != plan.email:  # e.g. a control plane that ignores userEmail and made a token for the key's user
            raise CallerUnavailable(
                f"the temporary token this control plane made belongs to {who or 'someone else'}, not {plan.email}: "
                f"verify with the key of a caller that {plan.subject} covers"
            )
        yield as_caller
    finally:
        if plan.kind == "temporary_member":
            await _remove_temporary_member(client, plan, before is None)
        else:
            await _revoke(client, plan.email, created.id)


class CallerUnavailable(Exception):
    """The control plane would not make the planned caller; the message says why and what to do."""


def _unavailable(plan: CallerPlan, exc: ControlPlaneError) -> str:
    what = f"a temporary member of team {plan.team}" if plan.team else f"a temporary token for {plan.email}"
    if isinstance(exc, PermissionDeniedError):
        return f"the configured key may not create {what} (it is not an admin)"
    return (
        f"this control plane cannot create {what} ({exc.status} for a tfy-gateway endpoint, e.g. on the platform): "
        f"verify with the key of a caller that {plan.subject} covers"
    )


async def _revoke(client: ControlPlaneClient, email: str, token_id: str | None) -> None:
    """Revoke the temporary token (by id, or every token of that name the user has)."""
    try:
        ids = [token_id] if token_id else []
        if not ids:
            ids = [t.id for t in await client.list_tokens(user=email) if t.name.startswith(TOKEN_NAME)]
        for found in ids:
            await client.delete_personal_access_token(found)
    except ControlPlaneError as exc:
        logger.error("the temporary verification token of %s could not be revoked: %s", email, exc)
        raise


async def _remove_temporary_member(client: ControlPlaneClient, plan: CallerPlan, team_was_new: bool) -> None:
    """Revoke the temporary user's tokens and take it out of the team (deleting a team it alone made)."""
    assert plan.team is not None
    await _revoke(client, plan.email, None)
    team = await client.get_team(plan.team)
    if team is None:
        return
    members = [m for m in team.get("members") or [] if str(m).lower() != plan.email]
    if team_was_new and not members:
        await client.delete(team)
    else:
        await client.apply({**team, "members": members}, dry_run=False)
