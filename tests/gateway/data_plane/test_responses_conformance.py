"""Every `/responses` answer and stream event the gateway produces (passed through from the fake
provider, translated from Anthropic and Azure chat, and its own error event) validates against
OpenAI's published schemas `Response` and `ResponseStreamEvent`.

The validator and the spec fixture are the conformance work's (tests/gateway/conformance/); this
module runs once that fixture is present and lists both schemas among its roots (its
`extract_spec.py` ROOTS: add "Response" and "ResponseStreamEvent"), and is skipped before.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.gateway.data_plane.conftest import DataPlane
from tests.gateway.data_plane.test_responses import TOOLS, priced_accounts
from tfy_gateway.gateway.data_plane.failures import DataPlaneError
from tfy_gateway.gateway.data_plane.streaming import response_error_event

openapi = pytest.importorskip("tests.gateway.conformance.openapi")
if not {"Response", "ResponseStreamEvent"} <= set(openapi.spec()["components"]["schemas"]):
    pytest.skip("the spec fixture has no Response schemas yet (add them to its ROOTS)", allow_module_level=True)

MODELS = ["fake/gpt-4o", "rclaude/sonnet", "razure/gpt-4o"]
BODIES: list[dict[str, Any]] = [
    {"input": "hello", "instructions": "Be brief.", "max_output_tokens": 5, "user": "u1", "metadata": {"a": "b"}},
    {"input": [{"role": "user", "content": "use get_weather"}], "tools": TOOLS, "temperature": 0.3},
]


def stream_events(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    return events


@pytest.mark.parametrize("model", MODELS)
async def test_responses_and_their_stream_events_follow_the_spec(dp: DataPlane, model: str) -> None:
    await priced_accounts(dp)
    for body in BODIES:
        plain = await dp.post("responses", {"model": model, **body})
        assert plain.status_code == 200, plain.text
        openapi.conform(plain.json(), "Response")
        streamed = await dp.post("responses", {"model": model, **body, "stream": True})
        events = stream_events(streamed.text)
        assert events[-1]["type"] in ("response.completed", "response.incomplete")
        for event in events:
            openapi.conform(event, "ResponseStreamEvent")


def test_the_gateways_own_error_event_follows_the_spec() -> None:
    event = response_error_event(DataPlaneError(502, "cut short", type="APIError"), 7)
    payload = json.loads(event.partition(b"\ndata: ")[2])
    openapi.conform(payload, "ResponseStreamEvent")
    assert payload["sequence_number"] == 7 and payload["error"]["message"] == "cut short"
    assert payload["code"] == payload["error"]["code"] == "upstream_error"  # a name, not the status
