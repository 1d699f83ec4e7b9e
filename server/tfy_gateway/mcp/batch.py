"""Dry runs of a plan's documents, when some use integrations that earlier documents create.

A rule that runs the guardrail (or routes to the model) of a group (or account) created by the same
plan cannot be checked by the control plane before that integration exists: the platform's CLI skips
such dry runs (`BatchAccounts`). A plan still needs their diff and the live state they replace, so for
them the live resource is read and the diff computed here; the control plane checks them when they are
applied, right after the documents they depend on.
"""

from __future__ import annotations

from typing import Any

from tfy_gateway.mcp.live import live_resource
from tfy_gateway.platform import ApplyOutcome, BatchAccounts, ControlPlaneClient, plan_diff, strip_none_fields


async def dry_run(client: ControlPlaneClient, accounts: BatchAccounts, manifest: dict[str, Any]) -> ApplyOutcome:
    """The dry run of `manifest`, the next document of the batch `accounts` was made from."""
    if accounts.created_by_this_apply(manifest):
        sent = strip_none_fields(manifest)
        existing = await live_resource(client, sent)
        type_ = str(sent.get("type") or "")
        outcome = ApplyOutcome(
            name=str(sent.get("name") or type_),
            type=type_,
            action="UPDATE" if existing else "CREATE",
            existing=existing,
            diff=plan_diff(existing, sent),
            dry_run=True,
        )
    else:
        outcome = await client.apply(manifest, dry_run=True)
    accounts.record(manifest, outcome.existing)
    return outcome
