"""The prompt-token estimate: characters of the request's text / 4, wherever the body holds it."""

from __future__ import annotations

from types import MappingProxyType

from tfy_gateway.gateway.accounting.estimate import prompt_tokens


def test_chat_messages_count_their_text_and_nothing_else() -> None:
    body = {"model": "m", "messages": [{"role": "system", "content": "abcd"}, {"role": "user", "content": "efghi"}]}
    assert prompt_tokens(body) == 3  # 9 characters, rounded up; roles and the model are not text


def test_content_parts_tool_outputs_and_nested_mappings_count_at_any_depth() -> None:
    parts = [{"type": "text", "text": "a" * 8}, {"type": "image_url", "image_url": {"url": "x" * 400}}]
    mapped = MappingProxyType({"role": "user", "content": "b" * 4})  # not a plain dict: read all the same
    body = {"messages": [{"role": "user", "content": parts}, mapped, "c" * 4]}
    assert prompt_tokens(body) == 4  # 8 + 4 + 4 characters; the image URL is not text


def test_prompt_input_and_instructions_add_up() -> None:
    body = {
        "prompt": ["abcd", "efgh"],
        "input": [{"type": "function_call_output", "output": "ijkl"}, {"role": "user", "content": "mnop"}],
        "instructions": "qrst",
    }
    assert prompt_tokens(body) == 5
    assert prompt_tokens({"input": "abcde"}) == 2
    assert prompt_tokens({"model": "m"}) == 0
