"""`GET /api/svc/v1/llm-gateway/config-history`: the kept versions of the applied resources (admins).

Without parameters: every resource with recorded versions (deleted ones too), its newest version and
how many are kept. With `kind` and `name`: that resource's versions, newest first, each with its
manifest (secret values redacted, as the config API shows them; null for a delete), who and when;
`from` and `to` (versions; default: the newest and the one before it) add `diff`, the diff the CLI
prints between them (manifests/diff.py). The dashboard's config pages read the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tfy_gateway.gateway.control_plane.http import json_response, require_admin
from tfy_gateway.gateway.control_plane.views import redact
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.state import get_state
from tfy_gateway.gateway.store import HISTORY_KEEP, HistoryRecord
from tfy_gateway.manifests.diff import change_diff

PATH = "/api/svc/v1/llm-gateway/config-history"


@dataclass(frozen=True)
class Comparison:
    """Two kept versions of one resource (`before` no newer than `after`) and the diff between them."""

    before: HistoryRecord
    after: HistoryRecord
    diff: str


def shown(item: HistoryRecord) -> dict[str, Any] | None:
    """A version's manifest as the config API shows it (secret values redacted)."""
    return None if item.manifest is None else redact(item.manifest)


def compare(history: list[HistoryRecord], from_version: str | None, to_version: str | None) -> Comparison:
    """The diff between versions `from_version` and `to_version` of `history` (newest first), by default
    the newest and the one before it; a resource with one version shows all of it, as its creation."""
    after = _version(history, to_version, history[0].version)
    older = [item for item in history if item.version < after.version]
    before = _version(history, from_version, older[0].version if older else after.version)
    if before.version > after.version:
        before, after = after, before
    if before.version == after.version:
        return Comparison(before, after, change_diff(None, shown(after)))
    return Comparison(before, after, change_diff(shown(before), shown(after)))


def _version(history: list[HistoryRecord], raw: str | None, default: int) -> HistoryRecord:
    raw = raw or None  # an empty form field: the default
    wanted = int(raw) if raw is not None and raw.isdigit() else default
    if raw is not None and not raw.isdigit():
        raise ApiError(400, f"Version {raw!r} is not a number; the versions are listed without 'from' and 'to'.")
    for item in history:
        if item.version == wanted:
            return item
    raise ApiError(404, f"Version {raw} is not among the kept versions of this resource (the newest {HISTORY_KEEP}).")


def _entry(item: HistoryRecord) -> dict[str, Any]:
    return {
        "version": item.version,
        "type": item.type,
        "manifest": shown(item),
        "deleted": item.manifest is None,
        "changed_by": item.changed_by,
        "changed_at": item.changed_at,
    }


async def config_history(request: Request) -> Response:
    require_admin(request)
    store = get_state(request).store
    params = request.query_params
    kind, name = params.get("kind"), params.get("name")
    if kind is None or name is None:
        index = await store.run(store.history_index)
        return json_response({"data": [item.__dict__ for item in index], "keep": HISTORY_KEEP})
    history = await store.run(store.resource_history, kind, name)
    if not history:
        raise ApiError(404, f"No recorded versions of {kind} {name!r}; GET {PATH} lists the resources that have some.")
    body: dict[str, Any] = {"kind": kind, "name": name, "data": [_entry(item) for item in history]}
    if "from" in params or "to" in params:
        comparison = compare(history, params.get("from"), params.get("to"))
        body["diff"] = {"from": comparison.before.version, "to": comparison.after.version, "text": comparison.diff}
    return json_response(body)


routes = [Route(PATH, config_history, methods=["GET"])]
