"""OpenAI's batch object and the lines of a batch's output and error files.

Lifecycle (OpenAI's): validating -> in_progress -> finalizing -> completed; validating -> failed (the
input does not fit the batch); in_progress -> cancelling -> cancelled; unfinished at `expires_at` ->
expired. Each status sets its `<status>_at` timestamp once.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from tfy_gateway.gateway.batches.execute import LineAnswer
from tfy_gateway.gateway.batches.jsonl import RequestLine

WINDOWS = {"24h": 24 * 3600}
"""completion_window -> seconds; OpenAI offers 24h only."""

ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
"""Statuses of a batch that still needs the runner."""

TIMESTAMPS = {
    "in_progress": "in_progress_at",
    "finalizing": "finalizing_at",
    "completed": "completed_at",
    "failed": "failed_at",
    "expired": "expired_at",
    "cancelling": "cancelling_at",
    "cancelled": "cancelled_at",
}


def new_id(prefix: str) -> str:
    """24 hex digits: the time in microseconds, then 40 random bits. Lists order by (created_at, id) and
    created_at counts seconds: time-ordered ids keep the objects of one second in creation order."""
    return f"{prefix}{time.time_ns() // 1000:014x}{secrets.token_hex(5)}"


def new_batch(
    batch_id: str, input_file_id: str, endpoint: str, window: str, metadata: dict[str, str] | None, now: int
) -> dict[str, Any]:
    """A batch as created: validating, nothing counted yet."""
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": endpoint,
        "errors": None,
        "input_file_id": input_file_id,
        "completion_window": window,
        "status": "validating",
        "output_file_id": None,
        "error_file_id": None,
        "created_at": now,
        "in_progress_at": None,
        "expires_at": now + WINDOWS[window],
        "finalizing_at": None,
        "completed_at": None,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": None,
        "cancelled_at": None,
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
        "metadata": metadata,
    }


def moved(body: dict[str, Any], status: str, now: int, **changes: Any) -> dict[str, Any]:
    """The object in `status`, its timestamp set (once), with `changes`."""
    updated = {**body, **changes, "status": status}
    stamp = TIMESTAMPS.get(status)
    if stamp is not None and updated.get(stamp) is None:
        updated[stamp] = now
    return updated


def answered_line(request: RequestLine, answer: LineAnswer) -> tuple[bool, str]:
    """(failed, the line for the output or error file): a 2xx answer goes to the output file, any other
    to the error file, each with the response as the client would have had it."""
    line = {
        "id": "batch_req_" + (answer.request_id or secrets.token_hex(12)),
        "custom_id": request.custom_id,
        "response": {"status_code": answer.status, "request_id": answer.request_id, "body": answer.json_body()},
        "error": None,
    }
    return answer.status >= 300, orjson.dumps(line).decode()


def unrun_line(request: RequestLine, code: str, message: str) -> str:
    """The error-file line of a request the gateway did not run (the batch expired, its token is gone)."""
    line = {
        "id": new_id("batch_req_"),
        "custom_id": request.custom_id,
        "response": None,
        "error": {"code": code, "message": message},
    }
    return orjson.dumps(line).decode()


def validation_errors(problems: list[str]) -> dict[str, Any]:
    """The `errors` of a batch that failed validation, one entry per problem (its line, when known)."""
    data = []
    for problem in problems:
        line = None
        if problem.startswith("line "):
            number = problem[5:].split(" ", 1)[0].rstrip(":")
            line = int(number) if number.isdigit() else None
        data.append({"code": "invalid_request", "message": problem, "param": None, "line": line})
    return {"object": "list", "data": data}


def usage_of(output_lines: list[str]) -> dict[str, Any]:
    """The batch's token usage (OpenAI's `usage` of a batch), summed over its answered lines."""
    prompt = completion = cached = reasoning = 0
    for text in output_lines:
        body = (orjson.loads(text).get("response") or {}).get("body")
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            continue
        prompt += _count(usage.get("prompt_tokens", usage.get("input_tokens")))
        completion += _count(usage.get("completion_tokens", usage.get("output_tokens")))
        cached += _count((usage.get("prompt_tokens_details") or {}).get("cached_tokens"))
        reasoning += _count((usage.get("completion_tokens_details") or {}).get("reasoning_tokens"))
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
