"""Semantic findings for a manifest that still has schema errors: one validation pass reports both.

Lint needs a typed model, and a manifest with a misspelt key has none, so its semantic problems
(weights not adding up to 100, unknown targets, shadowed rules) used to show only after the schema
was fixed: one more round trip per mistake. Here the parts the schema rejects are set aside, the
rest is linted, and findings that could depend on what was set aside are dropped:
1. drop each mapping key a schema error points at (an unknown or mistyped field), and re-check;
2. if errors remain, set aside each whole list item holding one (e.g. `rules[1]`), re-check, lint,
   and report findings with the item's original index; findings about other items of that list as a
   whole (shadowing compares rules with each other) are dropped, since the set-aside item is missing.
Findings inside an item whose schema error changed what it says (a missing or mistyped value) are
dropped too: that item was not linted as written. An unknown field is different: dropping it leaves
the item as the platform would read the rest, so the item's other findings are reported in the same
pass (a misspelt key, weights that do not add up and an unknown target of one rule, all at once),
except findings about the very mapping that lost the key (a misspelt limit leaves `limits` empty).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from tfy_gateway.manifests.findings import Finding, format_path
from tfy_gateway.manifests.schema_check import check_schema

Loc = tuple[str | int, ...]
MAX_ROUNDS = 4
CROSS_ITEM_CODES = frozenset({"shadowed-rule", "duplicate-rule-id", "duplicate-integration"})


UNKNOWN_FIELD = "unknown-field"


def _errors(findings: list[Finding]) -> list[Loc]:
    return [f.loc for f in findings if f.severity == "error" and f.loc]


def _changing(findings: list[Finding]) -> list[Loc]:
    """Error locations whose removal changes what the item says (all but unknown fields)."""
    return [f.loc for f in findings if f.severity == "error" and f.loc and f.code != UNKNOWN_FIELD]


def _drop_keys(data: Any, locs: list[Loc]) -> bool:
    dropped = False
    for loc in locs:
        parent: Any = data
        for part in loc[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        if isinstance(parent, dict) and loc[-1] in parent:
            del parent[loc[-1]]
            dropped = True
    return dropped


def _item(loc: Loc) -> tuple[str, int] | None:
    if len(loc) >= 2 and isinstance(loc[0], str) and isinstance(loc[1], int):
        return loc[0], loc[1]
    return None


def partial_lint(
    manifest: Any, schema_findings: list[Finding], lint: Callable[[BaseModel], list[Finding]]
) -> list[Finding]:
    """Lint findings for the parts of `manifest` the schema accepted (see the module docstring)."""
    if not isinstance(manifest, dict):
        return []
    data = copy.deepcopy(manifest)
    tainted = {item for loc in _changing(schema_findings) if (item := _item(loc)) is not None}
    tainted_top = {loc[0] for loc in _changing(schema_findings) if _item(loc) is None}
    findings = schema_findings
    model: BaseModel | None = None
    for _ in range(MAX_ROUNDS):
        if not _drop_keys(data, _errors(findings)):
            break
        model, findings = check_schema(data)
        if model is not None:
            break
    index_map: dict[str, list[int]] = {}
    if model is None:
        removed: dict[str, set[int]] = {}
        for loc in _errors(findings):
            item = _item(loc)
            if item is None:
                return []  # a top-level field is wrong: nothing to lint without guessing
            removed.setdefault(item[0], set()).add(item[1])
            tainted.add(item)
        for key, indices in removed.items():
            items = data.get(key)
            if not isinstance(items, list):
                return []
            index_map[key] = [i for i in range(len(items)) if i not in indices]
            data[key] = [items[i] for i in index_map[key]]
        model, findings = check_schema(data)
        if model is None:
            return []
    lost_a_key = {f.loc[:-1] for f in schema_findings if f.code == UNKNOWN_FIELD and f.loc}
    result = []
    for found in lint(model):
        loc = found.loc
        item = _item(loc)
        if item is not None and item[0] in index_map:
            if found.code in CROSS_ITEM_CODES:
                continue
            original = index_map[item[0]][item[1]]
            loc = (item[0], original, *loc[2:])
            item = (item[0], original)
        if (item is not None and item in tainted) or (loc and loc[0] in tainted_top) or loc in lost_a_key:
            continue
        result.append(Finding(found.severity, found.code, found.message, format_path(loc), hint=found.hint, loc=loc))
    return result
