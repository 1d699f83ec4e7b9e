"""The V2 budgets API driven by truefoundry-sdk's own client (`AsyncTrueFoundry(...).gateway_budgets`, the
async twin of `TrueFoundry`'s, over the in-process gateway's HTTP client)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from truefoundry_sdk import AsyncTrueFoundry
from truefoundry_sdk.core.api_error import ApiError
from truefoundry_sdk.errors import BadRequestError

from tests.gateway.data_plane.conftest import DataPlane
from tests.gateway.inprocess import GATEWAY_URL
from tests.gateway.limits.test_budgets_end_to_end import pricey_account
from tests.gateway.limits.test_end_to_end import unique


@pytest.fixture
async def http(dp: DataPlane) -> AsyncIterator[httpx.AsyncClient]:
    """The SDK's HTTP client, closed after the test (the SDK never closes one it makes itself)."""
    async with dp.gateway.client() as client:
        yield client


async def test_the_platform_sdk_lists_creates_reads_simulates_ranks_and_deletes_budgets(
    dp: DataPlane, http: httpx.AsyncClient
) -> None:
    budgets = AsyncTrueFoundry(base_url=GATEWAY_URL, api_key=dp.token, httpx_client=http).gateway_budgets
    marker = unique("sdk")
    model = await pricey_account(dp, unique("sdkacct"))
    manifest = {
        "name": marker,
        "type": "tenant-budget-config",
        "when": {"metadata": {"run": {"in": [marker]}}},
        "limits": {"cost_per_day": 10, "cost_per_lifetime": 100},
        "applies_to": {"type": "per-user"},
        "mode": "enforce",
    }
    with pytest.raises(BadRequestError) as invalid:  # the platform's status for an invalid budget, as documented
        await budgets.create_or_update(manifest={**manifest, "limits": {"cost_per_day": -1}})
    assert invalid.value.status_code == 400 and "cost_per_day" in json.dumps(invalid.value.body)
    dry = await budgets.create_or_update(manifest=manifest, dry_run=True)
    assert dry.name == marker and all(b.name != marker for b in (await budgets.list()).data)
    created = await budgets.create_or_update(manifest=manifest)
    assert created.type == "tenant-budget-config" and created.id
    assert [b.name for b in (await budgets.list(type="tenant-budget-config")).data].count(marker) == 1
    assert (await budgets.get(created.id)).manifest is not None

    alice = await dp.add_user(f"alice-{marker}@example.com")
    headers = {"x-tfy-metadata": json.dumps({"run": marker})}
    for token, times in ((alice, 2), (None, 1)):
        for _ in range(times):
            assert (await dp.chat(model, token=token, headers=headers)).status_code == 200

    board = (await budgets.get_leaderboard(created.id, limit=10)).matched
    assert [entry.name for entry in board] == [marker] and board[0].applies_to == "per-user"
    ranked = [(entity.entity, round(entity.periods["cost_per_day"].used, 3)) for entity in board[0].entities]
    assert ranked[0][0] == f"alice-{marker}@example.com" and ranked[0][1] > ranked[1][1] > 0
    assert board[0].entities[0].periods["cost_per_lifetime"].end > 4e9, "a lifetime never ends"

    simulated = (
        await budgets.simulate(user=f"alice-{marker}@example.com", model=model, metadata={"run": marker})
    ).matched
    (mine,) = [entry for entry in simulated if entry.name == marker]
    assert mine.entities[0].entity == f"alice-{marker}@example.com"
    assert mine.entities[0].periods["cost_per_day"].used == pytest.approx(ranked[0][1], abs=1e-3)
    assert all(entry.name != marker for entry in (await budgets.simulate(user="x@example.com", model=model)).matched)

    as_alice = AsyncTrueFoundry(base_url=GATEWAY_URL, api_key=alice, httpx_client=http)
    mine_only = (await as_alice.gateway_budgets.get_my_usage()).matched
    (own,) = [entry for entry in mine_only if entry.name == marker]
    assert own.entities[0].entity == f"alice-{marker}@example.com" and own.mode == "enforce"

    await budgets.delete(created.id)
    assert all(b.name != marker for b in (await budgets.list()).data)
    with pytest.raises(ApiError) as missing:
        await budgets.get(created.id)
    assert missing.value.status_code == 404
