"""The Responses API's objects as the gateway builds them when it translates from chat: the Response
(`shell` before any output, `finish` once the answer ended), its output items and its usage. Shapes
follow OpenAI's published spec (openai/openai-openapi: Response, OutputMessage, FunctionToolCall,
ResponseUsage), so the openai SDK reads them as it reads OpenAI's own.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from tfy_gateway.gateway.providers.base import Usage

FINISHED = {"length": "max_output_tokens", "content_filter": "content_filter"}
"""Chat finish reasons that leave a Response `incomplete`, and the reason it then gives."""


def mapping(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (for reading optional nested fields)."""
    return value if isinstance(value, dict) else {}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def usage_of(usage: Usage) -> dict[str, Any]:
    """Usage in the Responses API's terms."""
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _echoed_tool(tool: Any) -> Any:
    """A function tool as a Response lists it: `strict` and `parameters` always present (false and null
    when the request left them out: a chat translation enforces no strict schema)."""
    if not isinstance(tool, dict) or tool.get("type") != "function":
        return tool
    return {"strict": False, "parameters": None, **tool}


def shell(request: Mapping[str, Any], response_id: str, created_at: int, model: str) -> dict[str, Any]:
    """A Response object as the request configured it, before any output (status in_progress)."""
    text = mapping(request.get("text"))
    reasoning = mapping(request.get("reasoning"))
    response: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": None},
        "service_tier": request.get("service_tier"),
        "store": False,
        "temperature": request.get("temperature"),
        "text": {"format": text.get("format") or {"type": "text"}},
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": [_echoed_tool(tool) for tool in request.get("tools") or ()],
        "top_p": request.get("top_p"),
        "truncation": "disabled",
        "metadata": request.get("metadata") or {},
    }
    if isinstance(request.get("user"), str):
        response["user"] = request["user"]  # the spec's `user` is a string: left out when not given
    return response


def finish(response: dict[str, Any], finish_reason: str | None, usage: Usage | None) -> dict[str, Any]:
    """The Response once the answer ended: its status (completed or incomplete, and why) and usage."""
    reason = FINISHED.get(finish_reason or "")
    response["status"] = "incomplete" if reason else "completed"
    response["incomplete_details"] = {"reason": reason} if reason else None
    if usage is not None:
        response["usage"] = usage_of(usage)
    return response


def message_item(item_id: str, text: str | None, refusal: str | None, status: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
    if refusal:
        content.append({"type": "refusal", "refusal": refusal})
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def reasoning_item(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    """What the model thought, as chat gave it (`reasoning_content`): a `reasoning_text` part, no summary."""
    content = [{"type": "reasoning_text", "text": text}] if text is not None else []
    return {"id": item_id, "type": "reasoning", "summary": [], "content": content, "status": status}


def call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }
