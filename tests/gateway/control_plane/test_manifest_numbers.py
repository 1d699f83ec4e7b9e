"""The server refuses an out-of-range or non-finite manifest number with 422 naming the field (a budget of
1e300 used to be a 500 from the compiler), and a JSON number that overflows a double with 400."""

from __future__ import annotations

from tests.gateway.inprocess import InProcessGateway
from tests.manifests.test_numbers import BAD


async def test_the_server_answers_422_naming_the_field_never_500(inprocess_gateway: InProcessGateway) -> None:
    gateway = inprocess_gateway
    for manifest, path in BAD:
        answer = await gateway.http.put(
            "/api/svc/v1/apply", json={"manifest": manifest, "dryRun": False}, headers=gateway.auth()
        )
        assert answer.status_code == 422, (path, answer.status_code, answer.text[:300])
        assert path.split("[")[0] in answer.json()["message"], answer.text[:300]
    raw = b'{"manifest": {"name": "b", "type": "gateway-budget-config", "rules": [{"id": "r", "when": {}, "limit_to": 1e400, "unit": "cost_per_day"}]}}'
    answer = await gateway.http.put(
        "/api/svc/v1/apply", content=raw, headers={**gateway.auth(), "content-type": "application/json"}
    )
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["message"]
