"""The whole stack real, over sockets: the openai SDK -> a gateway process -> the fake provider over
HTTP in Bedrock's wire format, with bearer (api-key) and SigV4-signed (access-key) accounts.

(test_bedrock_sdk.py covers the behaviour in process; this module checks the production transport:
model ids sent percent-encoded as signed, event-stream frames read from a real socket.)"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.gateway.data_plane.conftest import PROVIDER_KEY, DataPlaneProcess, apply

MODEL_ID = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
TOOL: Any = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
AUTH = {
    "key": {"type": "api-key", "api_key": PROVIDER_KEY},
    "sigv4": {"type": "access-key-based", "access_key_id": "AKIDEXAMPLE", "secret_access_key": "example-secret"},
}


@pytest.fixture(scope="module")
def dp(dp_process: DataPlaneProcess, provider: str) -> DataPlaneProcess:
    for name, auth in AUTH.items():
        apply(
            dp_process.gateway,
            {
                "name": f"bedrock-{name}",
                "type": "provider-account/aws-bedrock",
                "region": "us-east-1",
                "base_url": provider,
                "auth_data": auth,
                "integrations": [
                    {
                        "type": "integration/model/bedrock",
                        "name": "sonnet",
                        "model_id": MODEL_ID,
                        "model_types": ["chat"],
                    }
                ],
            },
        )
    return dp_process


def client(dp: DataPlaneProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=dp.base, api_key=dp.token, max_retries=0)


@pytest.mark.parametrize("auth", sorted(AUTH))
def test_plain_streamed_and_tool_calls(dp: DataPlaneProcess, auth: str) -> None:
    model = f"bedrock-{auth}/sonnet"
    messages: Any = [{"role": "user", "content": "hello there"}]
    answer = client(dp).chat.completions.create(model=model, messages=messages, max_tokens=4)
    assert answer.choices[0].message.content == f"Fake reply from {MODEL_ID}:"
    assert answer.usage is not None and answer.usage.completion_tokens == 4

    chunks = list(
        client(dp).chat.completions.create(
            model=model, messages=messages, max_tokens=6, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Fake reply from {MODEL_ID}: hello there"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6

    arguments = ""
    for chunk in client(dp).chat.completions.create(
        model=model, messages=messages, tools=[TOOL], tool_choice="required", stream=True
    ):
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            arguments += (call.function.arguments or "") if call.function else ""
    assert json.loads(arguments) == {"city": "fake-city"}
