"""Model access in an explanation: would the caller get a 403 before any rule or limit applies?

The same rule as the data plane's (`pipeline._authorized`): a model or virtual model is checked as
requested; a name only a routing rule matches (an alias such as `openai/gpt-4o`) needs access to one
of the rule's targets at least, and the targets the caller may not use are dropped. The caller is
built from the explained subject: a known user with its teams and admin flag, a team's anonymous
member, or a virtual account; every user carries `team:everyone`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tfy_gateway.gateway.access import ModelAccess
from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.store import UserRecord

EVERYONE = "team:everyone"


def subject_of(text: str) -> str:
    """A bare email is a user (`bob@example.com` -> `user:bob@example.com`); anything else as given."""
    if ":" not in text and "@" in text:
        return f"user:{text.strip().lower()}"
    return text


def caller_for(subject: str, subjects: Sequence[str], users: Mapping[str, UserRecord]) -> Principal:
    """The principal a request from `subject` would authenticate as (`subjects`: its rule subjects)."""
    kind, _, name = subject.partition(":")
    if kind == "virtualaccount":
        return Principal("virtualaccount", name, None, (), False, tuple(subjects), "", "")
    user = users.get(name.lower()) if kind == "user" else None
    carried = tuple(dict.fromkeys([*subjects, EVERYONE]))
    teams = tuple(s.partition(":")[2] for s in carried if s.startswith("team:"))
    return Principal(
        "user", name, name if kind == "user" else None, teams, bool(user and user.is_admin), carried, "", ""
    )


def access_report(access: ModelAccess, caller: Principal, explanation: Mapping[str, Any]) -> dict[str, Any]:
    """`{"allowed", "status", "reason", ...}` for the explained request."""
    requested = str(explanation.get("requested_model"))
    who = "admin " if caller.is_admin else ""
    routed = explanation.get("matched_rule") is not None and not explanation.get("virtual_model")
    if not routed:
        allowed = access.allows(caller, requested)
        reason = (
            f"{who}{caller.subject} may use {requested}"
            if allowed
            else f"{caller.subject} may not use {requested} (not a collaborator of its provider account, no grant, "
            "or no such model)"
        )
        return {"allowed": allowed, "status": None if allowed else 403, "reason": reason}
    targets = [str(t) for t in explanation.get("attempts") or []]
    usable = [t for t in targets if access.allows(caller, t)]
    dropped = [t for t in targets if t not in usable]
    if not usable:
        reason = f"{caller.subject} may use none of the rule's targets ({', '.join(targets) or 'none'})"
        return {"allowed": False, "status": 403, "reason": reason, "dropped_targets": dropped}
    reason = f"{who}{caller.subject} may use " + ", ".join(usable)
    if dropped:
        reason += f"; targets it may not use are skipped: {', '.join(dropped)}"
    return {"allowed": True, "status": None, "reason": reason, "dropped_targets": dropped}
