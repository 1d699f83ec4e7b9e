"""One rule for the Authorization header on both planes: exactly one, any spacing after Bearer."""

from __future__ import annotations

import httpx

from tests.gateway.data_plane.conftest import DataPlane

CHAT = {"model": "fake/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


async def both_planes(dp: DataPlane, headers: list[tuple[str, str]]) -> tuple[httpx.Response, httpx.Response]:
    data = await dp.http.post(dp.base + "/chat/completions", json=CHAT, headers=headers)
    control = await dp.http.get("/api/svc/v1/provider-accounts", headers=headers)
    return data, control


async def test_two_authorization_headers_are_a_400_on_both_planes(dp: DataPlane) -> None:
    for second in (dp.token, "tfy_someone_else"):
        headers = [("Authorization", f"Bearer {dp.token}"), ("Authorization", f"Bearer {second}")]
        for response in await both_planes(dp, headers):
            assert response.status_code == 400, response.text
            assert "2 Authorization headers" in response.json()["message"]


async def test_extra_spaces_after_bearer_are_accepted_on_both_planes(dp: DataPlane) -> None:
    for response in await both_planes(dp, [("Authorization", f"Bearer   {dp.token}")]):
        assert response.status_code == 200, response.text
