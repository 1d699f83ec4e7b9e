"""Dry runs of a plan's documents, when some use integrations that earlier documents create.

A rule that runs the guardrail (or routes to the model) of a group (or account) created by the same
plan cannot be checked by the control plane before that integration exists: the platform's CLI skips
such dry runs. A plan still needs their diff and the live state they replace, so for them the live
resource is read and the diff computed here; the control plane checks them when they are applied,
right after the documents they depend on.
"""

from __future__ import annotations

from typing import Any

from tfy_gateway.mcp.live import live_resource
from tfy_gateway.platform import (
    ApplyOutcome,
    ControlPlaneClient,
    integration_names,
    integration_references,
    plan_diff,
    strip_none_fields,
)


class Batch:
    """The documents of one plan, in apply order; `dry_run` each of them in that order."""

    def __init__(self, manifests: list[dict[str, Any]]) -> None:
        self.declared = {
            str(m["name"]): integration_names(m)
            for m in manifests
            if str(m.get("type", "")).startswith("provider-account/") and m.get("name")
        }
        self.live: dict[str, set[str]] = {}

    def created_here(self, manifest: dict[str, Any]) -> list[str]:
        """The `<account>/<integration>` references of `manifest` that earlier documents create."""
        created = []
        for reference in integration_references(manifest, self.declared):
            account, _, integration = reference.rpartition("/")
            if integration in self.declared[account] and integration not in self.live.get(account, set()):
                created.append(reference)
        return created

    async def dry_run(self, client: ControlPlaneClient, manifest: dict[str, Any]) -> ApplyOutcome:
        if self.created_here(manifest):
            outcome = await _local_outcome(client, manifest)
        else:
            outcome = await client.apply(manifest, dry_run=True)
        if str(manifest.get("type", "")).startswith("provider-account/") and manifest.get("name") in self.declared:
            self.live[str(manifest["name"])] = integration_names(outcome.existing)
        return outcome


async def _local_outcome(client: ControlPlaneClient, manifest: dict[str, Any]) -> ApplyOutcome:
    sent = strip_none_fields(manifest)
    existing = await live_resource(client, sent)
    type_ = str(sent.get("type") or "")
    return ApplyOutcome(
        name=str(sent.get("name") or type_),
        type=type_,
        action="UPDATE" if existing else "CREATE",
        existing=existing,
        diff=plan_diff(existing, sent),
        dry_run=True,
    )
