"""`GET /` and `GET /health` point a person (or a probe) at the right places, without auth or secrets."""

from __future__ import annotations

import httpx


def test_root_and_health_answer_with_pointers(gateway):
    for path in ("/", "/health"):
        response = httpx.get(gateway.base_url + path, timeout=10)
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["status"] == "ok" and body["data_plane"] == f"{gateway.base_url}/api/llm"
        assert body["control_plane"] == f"{gateway.base_url}/api/svc/v1"
        assert "TFY_HOST=" in body["tfy_cli"] and gateway.admin_token not in response.text
