"""The config pages (admins only, read-only): the applied manifests by type with their kept versions,
and one resource's history with the diff between any two of its versions.

The diff is the one `tfy-gateway apply --dry-run --show-diff` prints (manifests/diff.py: YAML with
sorted keys, `difflib.unified_diff`), of secret-redacted manifests as the config API shows them,
chosen as the history API chooses it (control_plane/history.py). Versions come from the store's
`resource_history` (store/base.py), appended by every write.
"""

from __future__ import annotations

from itertools import groupby
from urllib.parse import urlencode

from starlette.requests import Request

from tfy_gateway.gateway.auth import Principal
from tfy_gateway.gateway.control_plane.history import PATH, compare, shown
from tfy_gateway.gateway.dashboard.render import Page
from tfy_gateway.gateway.errors import ApiError
from tfy_gateway.gateway.state import get_state
from tfy_gateway.gateway.store import HISTORY_KEEP
from tfy_gateway.manifests.diff import format_manifest


def _require_admin(viewer: Principal) -> None:
    if not viewer.is_admin:
        raise ApiError(403, "Only tenant admins can see the gateway's configuration.")


async def config_page(request: Request, viewer: Principal) -> Page:
    _require_admin(viewer)
    state = get_state(request)
    index = await state.store.run(state.store.history_index)
    versions = {(item.kind, item.name): item for item in index}
    current = sorted(state.config.snapshot.resources.values(), key=lambda r: (r.type, r.name))
    groups = []
    for resource_type, members in groupby(current, key=lambda r: r.type):
        rows = []
        for resource in members:
            summary = versions.get(resource.key)
            rows.append(
                {
                    "kind": resource.key[0],
                    "name": resource.name,
                    "updated_at": resource.record.updated_at,
                    "versions": summary.versions if summary else 0,
                    "changed_by": summary.changed_by if summary else None,
                }
            )
        groups.append((resource_type, rows))
    deleted = [item for item in index if item.deleted]
    return Page("config.html.j2", {"groups": groups, "deleted": deleted, "keep": HISTORY_KEEP})


async def resource_page(request: Request, viewer: Principal) -> Page:
    _require_admin(viewer)
    state = get_state(request)
    kind, name = request.query_params.get("kind", ""), request.query_params.get("name", "")
    history = await state.store.run(state.store.resource_history, kind, name)
    if not history:
        raise ApiError(404, f"No recorded versions of {kind} {name!r}.")
    comparison = compare(history, request.query_params.get("from"), request.query_params.get("to"))
    after = shown(comparison.after)
    return Page(
        "resource.html.j2",
        {
            "kind": kind,
            "name": name,
            "history": history,
            "before": comparison.before,
            "after": comparison.after,
            "diff_lines": _classified(comparison.diff),
            "manifest": format_manifest(after) if after is not None else None,
            "keep": HISTORY_KEEP,
            "api_url": f"{PATH}?"
            + urlencode(
                {"kind": kind, "name": name, "from": comparison.before.version, "to": comparison.after.version}
            ),
        },
    )


def _classified(diff: str) -> list[tuple[str, str]]:
    """(css class, line) for each diff line: headers, hunks, added, removed, context."""
    lines = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")):
            kind = "head"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        lines.append((kind, line))
    return lines
