"""Deeply nested JSON is a 400 up front, on both planes (it was a 500 when re-serialised upstream)."""

from __future__ import annotations

from typing import Any

from tests.gateway.data_plane.conftest import DataPlane
from tfy_gateway.gateway.json_depth import MAX_JSON_DEPTH, too_deep


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def chat_body(extra_levels: int) -> dict[str, Any]:
    return {"model": "fake/gpt-4o", "messages": [{"role": "user", "content": "hi"}], "user_data": nested(extra_levels)}


def test_the_depth_check() -> None:
    assert not too_deep(b"[" * 10, nested(10))
    assert not too_deep(b"[" * MAX_JSON_DEPTH, nested(MAX_JSON_DEPTH))
    assert too_deep(b"[" * (MAX_JSON_DEPTH + 1), nested(MAX_JSON_DEPTH + 1))


async def test_a_300_level_chat_body_is_a_400_and_a_shallow_one_is_served(dp: DataPlane) -> None:
    deep = await dp.post("chat/completions", chat_body(300))
    assert deep.status_code == 400, deep.text
    assert f"more than {MAX_JSON_DEPTH} levels" in deep.json()["message"]
    assert (await dp.post("chat/completions", chat_body(20))).status_code == 200


async def test_a_deep_manifest_is_a_400(dp: DataPlane) -> None:
    manifest = {"name": "deep", "type": "team", "members": [], "description": nested(300)}
    response = await dp.http.put("/api/svc/v1/apply", json={"manifest": manifest}, headers=dp.auth())
    assert response.status_code == 400 and "levels" in response.json()["message"]
