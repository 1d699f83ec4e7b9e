"""Model names that only a routing rule resolves (aliases), and who may call them."""

from __future__ import annotations

from tests.gateway.data_plane.conftest import DataPlane

ROUTING = {
    "name": "aliases",
    "type": "gateway-load-balancing-config",
    "rules": [
        {
            "id": "alias-prefers-private",
            "type": "weight-based-routing",
            "when": {"models": ["team-chat"]},
            "load_balance_targets": [
                {"target": "private/gpt-4o", "weight": 100},
                {"target": "fake/gpt-4o", "weight": 0},
            ],
        },
        {
            "id": "private-only",
            "type": "weight-based-routing",
            "when": {"models": ["secret-chat"]},
            "load_balance_targets": [{"target": "private/gpt-4o", "weight": 100}],
        },
    ],
}


async def test_alias_routes_and_never_widens_a_tokens_reach(dp: DataPlane) -> None:
    await dp.apply(ROUTING)
    try:
        admin = await dp.chat("team-chat")
        assert admin.status_code == 200, admin.text
        assert admin.headers["x-tfy-resolved-model"] == "private/gpt-4o"

        user = await dp.add_user("alias-user@example.com")
        routed = await dp.chat("team-chat", token=user)
        assert routed.status_code == 200, routed.text
        assert routed.headers["x-tfy-resolved-model"] == "fake/gpt-4o"  # private/gpt-4o is not theirs

        denied = await dp.chat("secret-chat", token=user)
        assert denied.status_code == 403
        assert "secret-chat" in denied.json()["message"]

        unknown = await dp.chat("no-rule-alias")  # no rule, no model: OpenAI's 404, whoever asks
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
    finally:
        await dp.apply({**ROUTING, "rules": []})
