"""The dry-run diff, computed client-side exactly as the `tfy` CLI does (and the dashboard's diff of two
versions of a resource, `change_diff`, the same way).

The platform answers a dry run with the stored `existingManifest`; the CLI renders both manifests
with `yaml.dump(sort_keys=True, indent=2)` (provider-account integrations sorted by name first) and
runs `difflib.unified_diff` over the lines. Matching it line for line means what a user sees here is
what `tfy apply --dry-run --show-diff` will show against the platform.
(truefoundry 0.17.5: deploy/lib/diff_utils.py and deploy/lib/dao/apply.py.)

The CLI prints nothing for a resource that does not exist yet, so the most common first change would go
unreviewed; `plan_diff` shows a create as the whole manifest in added lines instead (`creation_diff`),
rendered the same way, and keeps the CLI's text for everything else.
"""

from __future__ import annotations

import difflib
from typing import Any


def strip_none_fields(manifest: dict[str, Any]) -> dict[str, Any]:
    """Drop top-level fields whose value is None, as the CLI does before sending (and diffing).

    The CLI parses the manifest into a pydantic-v1 `ManifestLike` and sends
    `.dict(exclude_unset=True, exclude_none=True)`, which only removes top-level None values:
    nested nulls are sent (and diffed) as written.
    """
    return {key: value for key, value in manifest.items() if value is not None}


def manifest_label(manifest: dict[str, Any]) -> str:
    """`<name> (<type>)`, or `manifest (<type>)` when the manifest has no name (the CLI's wording)."""
    type_ = manifest.get("type")
    name = manifest.get("name")
    return f"{name or 'manifest'} ({type_})"


def _normalize(manifest: dict[str, Any]) -> dict[str, Any]:
    type_ = manifest.get("type") or ""
    integrations = manifest.get("integrations")
    if (
        isinstance(type_, str)
        and type_.startswith("provider-account/")
        and isinstance(integrations, list)
        and all(isinstance(item, dict) and "name" in item for item in integrations)
    ):
        return {**manifest, "integrations": sorted(integrations, key=lambda item: item["name"])}
    return manifest


def format_manifest(manifest: dict[str, Any]) -> str:
    """The YAML text both sides of the diff are rendered to (PyYAML loads with the first diff)."""
    import yaml

    return yaml.dump(_normalize(manifest), sort_keys=True, indent=2)


def compute_diff(existing: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """Unified diff from `existing` to `new`; "" when nothing changes or there is nothing yet.

    `new` is the manifest as the user wrote it; top-level None fields are removed first, since the
    CLI never sends them. `existing` is compared as the server returned it.
    """
    if not existing:
        return ""
    sent = strip_none_fields(new)
    label = manifest_label(sent)
    lines = difflib.unified_diff(
        format_manifest(existing).splitlines(keepends=True),
        format_manifest(sent).splitlines(keepends=True),
        fromfile=f"existing/{label}",
        tofile=f"new/{label}",
    )
    return "".join(lines)


def creation_diff(new: dict[str, Any]) -> str:
    """The whole manifest as added lines, from `/dev/null`: what creating the resource adds.

    Rendered like `compute_diff`'s new side (top-level None fields removed, YAML with sorted keys), so
    applying the manifest later and diffing again shows no change.
    """
    sent = strip_none_fields(new)
    lines = difflib.unified_diff(
        [],
        format_manifest(sent).splitlines(keepends=True),
        fromfile="/dev/null",
        tofile=f"new/{manifest_label(sent)}",
    )
    return "".join(lines)


def plan_diff(existing: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """What a dry run shows: the CLI's diff for an update ("" when unchanged), `creation_diff` for a create."""
    return compute_diff(existing, new) if existing else creation_diff(new)


def deletion_diff(old: dict[str, Any]) -> str:
    """The whole manifest as removed lines, to `/dev/null`: what deleting the resource removes."""
    lines = difflib.unified_diff(
        format_manifest(old).splitlines(keepends=True),
        [],
        fromfile=f"existing/{manifest_label(old)}",
        tofile="/dev/null",
    )
    return "".join(lines)


def change_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """The diff between two versions of a resource (None: it did not exist): the CLI's diff when both
    exist (what `apply --dry-run --show-diff` prints for `after` over `before`), else a whole creation
    or deletion."""
    if after is None:
        return deletion_diff(before) if before else ""
    return plan_diff(before, after)
