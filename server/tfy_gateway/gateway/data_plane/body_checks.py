"""The optional fields of a chat or completions body, type-checked before anything reads them.

Translators (OpenAI -> Anthropic, Azure, Bedrock...) and the limits' token estimate read these
fields; a value of the wrong type (`temperature: "hot"`, `stop: 5`, a tool without `function.name`,
`max_tokens: 1e30`) is a 400 that names the field (`param`, e.g. `tools[0].function.name`) before
any of them runs and before any provider is called, whatever the provider. Only types and ranges are
checked, as OpenAI documents them; what a provider does not support is its translator's to say.

Ranges (OpenAI's where it states them): `max_tokens`/`max_completion_tokens` a whole number from 1
to 1,000,000 and `n` from 1 to 128, checked by the same function as the limits' holds
(providers/output_tokens.py), and sent on as an integer (`16.0` goes out as `16`; `1e30` is a
400, never forwarded); `temperature` 0..2, `top_p` 0..1, `presence_penalty`/`frequency_penalty`
-2..2, `top_logprobs` 0..20, `seed` a 64-bit integer, `stop` a string or up to 64 strings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from tfy_gateway.gateway.data_plane.failures import bad_request
from tfy_gateway.gateway.providers.output_tokens import (
    MAX_CHOICES,
    MAX_OUTPUT_TOKENS,
    OutputTokensInvalid,
    whole_number,
)

MAX_STOP = 64
COUNTS = ("max_output_tokens", "max_tokens", "max_completion_tokens", "n")
"""Whole-number fields sent on as integers (`16.0` goes out as `16`)."""
INT64 = 2**63

Check = Callable[[Any, str], None]


class Checks(dict[str, Check]):
    """The checks of an object's fields, in the order they run, and each field's place in that order
    (`_optional` puts a body's fields in it)."""

    def __init__(self, checks: Mapping[str, Check]) -> None:
        super().__init__(checks)
        self.place = {name: place for place, name in enumerate(self)}


def _fail(path: str, expected: str, value: Any) -> NoReturn:
    shown = type(value).__name__ if not isinstance(value, (int, float, str)) or isinstance(value, bool) else repr(value)
    raise bad_request(f"'{path}' must be {expected}, got {shown[:60]}.", path)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and math.isfinite(value)
    )


def integer(low: int, high: int) -> Check:
    def check(value: Any, path: str) -> None:
        if not _is_int(value) or not low <= value <= high:
            _fail(path, f"an integer from {low} to {high}", value)

    return check


def number(low: float, high: float) -> Check:
    def check(value: Any, path: str) -> None:
        if not _is_number(value) or not low <= value <= high:
            _fail(path, f"a number from {low:g} to {high:g}", value)

    return check


def whole(most: int, what: str) -> Check:
    def check(value: Any, path: str) -> None:
        try:
            whole_number(path, value, most, what)
        except OutputTokensInvalid as exc:
            raise bad_request(exc.message, exc.param) from None

    return check


def boolean(value: Any, path: str) -> None:
    if not isinstance(value, bool):
        _fail(path, "true or false", value)


def text(value: Any, path: str) -> None:
    if not isinstance(value, str):
        _fail(path, "a string", value)


def obj(value: Any, path: str) -> None:
    if not isinstance(value, dict):
        _fail(path, "an object", value)


def stop(value: Any, path: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or len(value) > MAX_STOP:
        _fail(path, f"a string or a list of at most {MAX_STOP} strings", value)
    for index, item in enumerate(value):
        text(item, f"{path}[{index}]")


def tools(value: Any, path: str) -> None:
    if not isinstance(value, list):
        _fail(path, "a list of tool objects", value)
    for index, tool in enumerate(value):
        where = f"{path}[{index}]"
        obj(tool, where)
        kind = tool.get("type", "function")
        text(kind, f"{where}.type")
        if kind == "function" or "function" in tool:
            function = tool.get("function")
            obj(function, f"{where}.function")
            name = function.get("name")
            if not isinstance(name, str) or not name:
                _fail(f"{where}.function.name", "a non-empty string", name)
            _optional(function, where + ".function", FUNCTION_FIELDS)


def tool_choice(value: Any, path: str) -> None:
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            _fail(path, "'none', 'auto', 'required' or {type: function, function: {name}}", value)
        return
    obj(value, path)
    function = value.get("function")
    if function is not None:
        obj(function, f"{path}.function")
        if not isinstance(function.get("name"), str) or not function["name"]:
            _fail(f"{path}.function.name", "a non-empty string", function.get("name"))


def response_format(value: Any, path: str) -> None:
    obj(value, path)
    text(value.get("type"), f"{path}.type")


def logit_bias(value: Any, path: str) -> None:
    obj(value, path)
    for key, bias in value.items():
        number(-100, 100)(bias, f"{path}.{key}")


def stream_options(value: Any, path: str) -> None:
    obj(value, path)
    _optional(value, path, STREAM_OPTION_FIELDS)


def messages(value: Any, path: str) -> None:
    """Each message's content, tool calls and ids (the endpoint already checked the list and roles).
    A message's path is spelled out only when something of it needs a closer look: most messages are
    a role and a string."""
    if not isinstance(value, list):
        return  # the endpoint's required-field check names it
    for index, message in enumerate(value):
        if not isinstance(message, dict):
            _fail(f"{path}[{index}]", "an object with role and content", message)
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            _content(content, f"{path}[{index}].content")
        if not MESSAGE_FIELDS.keys().isdisjoint(message):
            _optional(message, f"{path}[{index}]", MESSAGE_FIELDS)


def _content(value: Any, path: str) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list):
        _fail(path, "a string or a list of content parts", value)
    for index, part in enumerate(value):
        where = f"{path}[{index}]"
        obj(part, where)
        kind = part.get("type")
        text(kind, f"{where}.type")
        if kind == "text":
            text(part.get("text"), f"{where}.text")
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            text(url, f"{where}.image_url.url")


def _tool_calls(value: Any, path: str) -> None:
    if not isinstance(value, list):
        _fail(path, "a list of tool calls", value)
    for index, call in enumerate(value):
        where = f"{path}[{index}]"
        obj(call, where)
        _optional(call, where, TOOL_CALL_FIELDS)
        function = call.get("function")
        obj(function, f"{where}.function")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            _fail(f"{where}.function.name", "a non-empty string", name)
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, (str, dict)):
            _fail(f"{where}.function.arguments", "a JSON string", arguments)


FUNCTION_FIELDS = Checks({"description": text, "parameters": obj, "strict": boolean})
MESSAGE_FIELDS = Checks({"name": text, "tool_call_id": text, "tool_calls": _tool_calls})
TOOL_CALL_FIELDS = Checks({"id": text, "type": text})
STREAM_OPTION_FIELDS = Checks({"include_usage": boolean})

COMMON: Mapping[str, Check] = {
    "max_tokens": whole(MAX_OUTPUT_TOKENS, "output tokens per choice"),
    "max_completion_tokens": whole(MAX_OUTPUT_TOKENS, "output tokens per choice"),
    "n": whole(MAX_CHOICES, "choices"),
    "temperature": number(0, 2),
    "top_p": number(0, 1),
    "top_k": integer(0, MAX_OUTPUT_TOKENS),
    "presence_penalty": number(-2, 2),
    "frequency_penalty": number(-2, 2),
    "seed": integer(-INT64, INT64 - 1),
    "stop": stop,
    "user": text,
    "logprobs": boolean,
    "stream_options": stream_options,
    "logit_bias": logit_bias,
}
"""What chat and completions bodies share."""

CHAT = Checks(
    {
        **COMMON,
        "messages": messages,
        "tools": tools,
        "tool_choice": tool_choice,
        "parallel_tool_calls": boolean,
        "response_format": response_format,
        "top_logprobs": integer(0, 20),
    }
)

COMPLETIONS = Checks({**COMMON, "logprobs": integer(0, 5), "echo": boolean, "best_of": integer(1, 128)})


def response_input(value: Any, path: str) -> None:
    """`input` of /responses: a string, or a list of items (messages, function calls and their outputs...)."""
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        _fail(path, "a string or a list of input items", value)
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        obj(item, where)
        kind = item.get("type", "message")
        text(kind, f"{where}.type")
        if kind == "message":
            text(item.get("role"), f"{where}.role")
            content = item.get("content")
            if not isinstance(content, str):
                if not isinstance(content, list):
                    _fail(f"{where}.content", "a string or a list of content parts", content)
                for number_, part in enumerate(content):
                    obj(part, f"{where}.content[{number_}]")
                    text(part.get("type"), f"{where}.content[{number_}].type")
        elif kind == "function_call":
            for name in ("call_id", "name", "arguments"):
                text(item.get(name), f"{where}.{name}")
        elif kind == "function_call_output":
            text(item.get("call_id"), f"{where}.call_id")
            output = item.get("output")
            if not isinstance(output, (str, list)):
                _fail(f"{where}.output", "a string or a list of content parts", output)


def response_tools(value: Any, path: str) -> None:
    """Responses tools are flat: `{type: function, name, parameters}`, or a built-in tool's `{type, ...}`."""
    if not isinstance(value, list):
        _fail(path, "a list of tool objects", value)
    for index, tool in enumerate(value):
        where = f"{path}[{index}]"
        obj(tool, where)
        text(tool.get("type"), f"{where}.type")
        if tool["type"] == "function":
            name = tool.get("name")
            if not isinstance(name, str) or not name:
                _fail(f"{where}.name", "a non-empty string", name)
            _optional(tool, where, FUNCTION_FIELDS)


def response_tool_choice(value: Any, path: str) -> None:
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            _fail(path, "'none', 'auto', 'required' or {type: function, name}", value)
        return
    obj(value, path)
    text(value.get("type"), f"{path}.type")


RESPONSES = Checks(
    {
        "input": response_input,
        "instructions": text,
        "max_output_tokens": whole(MAX_OUTPUT_TOKENS, "output tokens"),
        "temperature": number(0, 2),
        "top_p": number(0, 1),
        "top_logprobs": integer(0, 20),
        "tools": response_tools,
        "tool_choice": response_tool_choice,
        "parallel_tool_calls": boolean,
        "store": boolean,
        "background": boolean,
        "metadata": obj,
        "user": text,
        "previous_response_id": text,
        "text": obj,
        "reasoning": obj,
        "stream_options": obj,
    }
)
"""/responses (OpenAI's Responses API)."""


def _optional(body: Mapping[str, Any], path: str, checks: Checks) -> None:
    """Each field of `body` that `checks` knows, in the checks' order (the first wrong one is named,
    whatever the body's order). Only the fields the body has are visited: a body sets a few of the
    dozens a chat request may."""
    present = checks.keys() & body.keys()
    if not present:
        return
    for name in present if len(present) == 1 else sorted(present, key=checks.place.__getitem__):
        value = body[name]
        if value is not None:
            checks[name](value, f"{path}.{name}" if path else name)


def check_body(endpoint: str, body: dict[str, Any]) -> None:
    """400 naming the first field of `body` whose type or range is wrong (chat and completions); a
    whole-number count written as a float (`16.0`) is sent on as the integer it is."""
    checks = CHAT if endpoint == "chat" else COMPLETIONS if endpoint == "completions" else None
    if endpoint == "responses":
        checks = RESPONSES
        if body.get("input") is None and not any(
            body.get(name) for name in ("previous_response_id", "prompt", "conversation")
        ):
            raise bad_request("'input' is required for /responses: a string or a list of input items.", "input")
    if checks is None:
        return
    _optional(body, "", checks)
    if not body.keys().isdisjoint(COUNTS):  # most bodies set none of them
        for name in COUNTS:
            if isinstance(body.get(name), float):
                body[name] = int(body[name])
