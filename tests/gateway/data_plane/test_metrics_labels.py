"""/metrics cannot be grown by requests: labels come from the applied configuration only."""

from __future__ import annotations

import secrets

from tests.gateway.data_plane.conftest import DataPlane


async def test_model_names_a_catch_all_rule_lets_through_are_one_other_label(dp: DataPlane) -> None:
    catch_all = {
        "id": "anything",
        "type": "weight-based-routing",
        "when": {"models": ["*"]},
        "load_balance_targets": [{"target": "fake/gpt-4o", "weight": 100}],
    }
    await dp.apply({"name": "routing", "type": "gateway-load-balancing-config", "rules": [catch_all]})
    names = [f"made-up/{secrets.token_hex(100)}" for _ in range(20)]
    for name in names:
        response = await dp.chat(name)
        assert response.status_code == 200 and response.headers["x-tfy-resolved-model"] == "fake/gpt-4o"
    too_long = await dp.chat("x/" + "m" * 300)
    assert too_long.status_code == 400 and "at most 256" in too_long.json()["message"]
    metrics = (await dp.http.get("/metrics")).text
    assert not any(name in metrics for name in names)
    assert 'model="other"' in metrics and 'model="fake/gpt-4o"' in metrics
    assert len(metrics) < 200_000
