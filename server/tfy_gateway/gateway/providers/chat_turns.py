"""OpenAI chat messages as a system part plus alternating user/assistant turns: the shape both
Anthropic Messages and Bedrock Converse want. Pure.

The walk is the same for both: system/developer messages go to the system part, assistant
`tool_calls` become tool-use blocks, tool messages become tool-result blocks in a user turn, and
consecutive turns of one role are merged. Each wire format brings its own block shapes (`TurnBlocks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from tfy_gateway.gateway.providers.base import InvalidRequest

Block = dict[str, Any]
Turn = dict[str, Any]  # {"role": "user" | "assistant", "content": [Block, ...]}


class TurnBlocks(Protocol):
    """One wire format's content blocks."""

    def content(self, content: Any, provider: str) -> list[Block]:
        """A message's `content` (a string or parts) as blocks."""
        ...

    def tool_use(self, call_id: str, name: str, arguments: dict[str, Any]) -> Block: ...

    def tool_result(self, call_id: str, text: str) -> Block: ...


def tool_call(call: Any, provider: str) -> tuple[str, str, dict[str, Any]]:
    """(id, name, parsed arguments) of an assistant `tool_calls` entry; 400 when it cannot be sent."""
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not function.get("name"):
        raise InvalidRequest(400, "assistant tool_calls entries need function.name", provider, param="messages")
    arguments = function.get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            400, f"tool call {function['name']!r}: function.arguments is not valid JSON", provider, param="messages"
        ) from None
    return str(call.get("id") or ""), str(function["name"]), parsed if isinstance(parsed, dict) else {}


def _tool_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


def _append(turns: list[Turn], role: str, blocks: list[Block]) -> None:
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def conversation(messages: Sequence[Any], blocks: TurnBlocks, provider: str) -> tuple[list[Block], list[Turn]]:
    """(system blocks, turns) of an OpenAI `messages` array; a 400 naming an unknown role."""
    system: list[Block] = []
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role in ("system", "developer"):
            system.extend(blocks.content(message.get("content"), provider))
        elif role == "user":
            _append(turns, "user", blocks.content(message.get("content"), provider))
        elif role == "assistant":
            said = blocks.content(message.get("content"), provider)
            said.extend(blocks.tool_use(*tool_call(call, provider)) for call in message.get("tool_calls") or ())
            _append(turns, "assistant", said)
        elif role == "tool":
            _append(turns, "user", [blocks.tool_result(str(message.get("tool_call_id") or ""), _tool_text(message))])
        else:
            raise InvalidRequest(
                400,
                f"messages[{index}].role {role!r} is not one of system, developer, user, assistant, tool",
                provider,
                param="messages",
            )
    return system, turns
