"""An upstream 429's Retry-After reaches the client when no fallback served the request."""

from __future__ import annotations

import pytest

from tests.gateway.data_plane.conftest import DataPlane
from tests.gateway.inprocess import FAKE_ORIGIN


@pytest.mark.parametrize("seconds", [7, 0.4])
async def test_the_providers_retry_after_is_passed_on(dp: DataPlane, seconds: float) -> None:
    integration = {
        "type": "integration/model/openai",
        "name": "busy",
        "model_id": f"gpt-4o@status=429,retry_after={seconds}",
        "model_types": ["chat"],
    }
    await dp.apply(
        {
            "name": "limited",
            "type": "provider-account/openai",
            "base_url": f"{FAKE_ORIGIN}/v1",
            "auth_data": {"type": "api-key", "api_key": "tfy-secret://local:fake-group:API_KEY"},
            "integrations": [integration],
        },
    )
    response = await dp.chat("limited/busy")
    assert response.status_code == 429
    assert response.headers["retry-after"] == str(max(1, round(seconds + 0.49)))  # whole seconds, at least 1
    assert response.json()["error_origin_level"] == "api_error"
