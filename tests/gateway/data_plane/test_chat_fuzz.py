"""Fuzzing chat requests shaped after OpenAI's chat-completions request schema (every field it
documents, each either a well-formed value or any JSON at all) against the in-process gateway, on
each provider path: no request is answered with a 5xx. Seeded and bounded (hypothesis, derandomized,
a few hundred bodies per path), so it runs the same in every run and in seconds."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.inprocess import InProcessGateway

EXAMPLES = 200
MODELS = ["openai-main/gpt-4o", "azure-backup/gpt-4o", "anthropic-main/claude-sonnet"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def either(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly well-formed values, sometimes (one draw in eight) anything."""
    return st.integers(0, 7).flatmap(lambda draw: any_json if draw == 7 else valid)


function = st.fixed_dictionaries(
    {"name": either(st.text(min_size=1, max_size=10))},
    optional={"description": either(st.text(max_size=10)), "parameters": either(st.just({"type": "object"}))},
)
tool = either(st.fixed_dictionaries({"type": either(st.just("function"))}, optional={"function": either(function)}))
part = either(
    st.fixed_dictionaries({"type": st.just("text"), "text": either(st.text(max_size=10))})
    | st.fixed_dictionaries(
        {
            "type": st.just("image_url"),
            "image_url": either(st.fixed_dictionaries({"url": either(st.just("data:image/png;base64,AAAA"))})),
        }
    )
    | st.fixed_dictionaries({"type": either(st.sampled_from(["input_audio", "file", "refusal"]))})
)
call = either(
    st.fixed_dictionaries(
        {"id": either(st.text(max_size=6)), "type": either(st.just("function"))},
        optional={
            "function": either(
                st.fixed_dictionaries(
                    {"name": either(st.text(max_size=8)), "arguments": either(st.just("{}") | st.text(max_size=8))}
                )
            )
        },
    )
)
message = either(
    st.fixed_dictionaries(
        {
            "role": either(st.sampled_from(["user", "system", "developer", "assistant", "tool", "function"])),
            "content": either(st.text(min_size=1, max_size=20) | st.none() | st.lists(part, max_size=3)),
        },
        optional={
            "tool_calls": either(st.lists(call, max_size=2)),
            "tool_call_id": either(st.text(max_size=6)),
            "name": either(st.text(max_size=6)),
        },
    )
)
OPTIONAL = {
    "max_tokens": either(st.integers(1, 64)),
    "max_completion_tokens": either(st.integers(1, 64)),
    "n": either(st.integers(1, 2)),
    "temperature": either(st.floats(0, 2)),
    "top_p": either(st.floats(0, 1)),
    "top_k": either(st.integers(0, 50)),
    "presence_penalty": either(st.floats(-2, 2)),
    "frequency_penalty": either(st.floats(-2, 2)),
    "seed": either(st.integers(-(2**63), 2**63 - 1)),
    "stop": either(st.text(max_size=4) | st.lists(st.text(max_size=4), max_size=3)),
    "user": either(st.text(max_size=8)),
    "logprobs": either(st.booleans()),
    "top_logprobs": either(st.integers(0, 20)),
    "logit_bias": either(st.dictionaries(st.text(max_size=4), st.integers(-100, 100), max_size=2)),
    "response_format": either(st.fixed_dictionaries({"type": st.sampled_from(["text", "json_object"])})),
    "tools": either(st.lists(tool, max_size=2)),
    "tool_choice": either(
        st.sampled_from(["none", "auto", "required"]) | st.just({"type": "function", "function": {"name": "f"}})
    ),
    "parallel_tool_calls": either(st.booleans()),
    "stream": either(st.booleans()),
    "stream_options": either(st.fixed_dictionaries({}, optional={"include_usage": either(st.booleans())})),
    "metadata": any_json,
}


def chat_bodies(model: str) -> st.SearchStrategy[dict[str, Any]]:
    required = {"model": st.just(model), "messages": either(st.lists(message, min_size=1, max_size=4))}
    return st.fixed_dictionaries(required, optional=OPTIONAL)


def sample(model: str) -> list[dict[str, Any]]:
    """`EXAMPLES` bodies for `model`, the same ones every run (derandomized, no example database)."""
    bodies: list[dict[str, Any]] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(chat_bodies(model))
    def collect(body: dict[str, Any]) -> None:
        bodies.append(body)

    collect()
    return bodies


@pytest.mark.parametrize("model", MODELS)
async def test_no_chat_body_gets_a_5xx(inprocess_gateway: InProcessGateway, model: str) -> None:
    gateway = inprocess_gateway
    failures = []
    statuses: dict[int, int] = {}
    for body in sample(model):
        answer = await gateway.http.post("/api/llm/chat/completions", json=body, headers=gateway.auth())
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        if answer.status_code >= 500:
            failures.append((body, answer.status_code, answer.text[:200]))
    assert not failures, failures[:3]
    refused = sum(count for status, count in statuses.items() if 400 <= status < 500)
    assert statuses.get(200, 0) > EXAMPLES // 10 and refused > EXAMPLES // 10, statuses  # both kinds ran
