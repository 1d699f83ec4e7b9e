"""Batch input files: JSONL, one request per line, checked line by line when uploaded and again
against the batch's endpoint when a batch is created, with errors that name the line.

A line is `{"custom_id": "...", "method": "POST", "url": "/v1/chat/completions", "body": {...}}`, as
OpenAI's Batch API defines it; `custom_id` is unique within the file, `body.model` is required and
streaming is refused (a batch answer is stored, never streamed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from tfy_gateway.gateway.errors import RequestError
from tfy_gateway.gateway.json_depth import too_deep

BATCH_URLS = {
    "/v1/chat/completions": "chat/completions",
    "/v1/embeddings": "embeddings",
    "/v1/completions": "completions",
    "/v1/moderations": "moderations",
    "/v1/responses": "responses",
}
"""The endpoints a batch may call (OpenAI's), and their data-plane routes."""

MAX_LINES = 50_000  # OpenAI's limit of requests per batch
MAX_REPORTED = 10  # problems listed in one error message


class InputFileError(RequestError, ValueError):
    """A batch input file that cannot run; the message names the lines at fault."""

    def __init__(self, problems: list[str], lines: int) -> None:
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        super().__init__(f"The batch input file is invalid: {shown}{more}.")
        self.problems = problems
        self.lines = lines


@dataclass(frozen=True)
class RequestLine:
    number: int  # 1-based, as editors count
    custom_id: str
    url: str
    body: dict[str, Any]


def _lines(content: bytes) -> Iterator[tuple[int, bytes]]:
    """Numbered lines; one final empty line (the file's last newline) is not a line."""
    parts = content.split(b"\n")
    if parts and not parts[-1].strip():
        parts.pop()
    for index, part in enumerate(parts, start=1):
        yield index, part.rstrip(b"\r")


def _problem(number: int, raw: bytes, seen: set[str]) -> tuple[RequestLine | None, str | None]:
    where = f"line {number}"
    if not raw.strip():
        return None, f"{where} is empty (one JSON request per line)"
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, f"{where} is not valid JSON ({exc})"
    if not isinstance(value, dict):
        return None, f"{where} must be a JSON object, not a JSON {type(value).__name__}"
    if too_deep(raw, value):
        return None, f"{where} is nested too deeply"
    custom_id = value.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return None, f"{where}: 'custom_id' must be a non-empty string"
    if custom_id in seen:
        return None, f"{where}: custom_id {custom_id!r} is used by an earlier line (each must be unique)"
    seen.add(custom_id)
    if value.get("method") != "POST":
        return None, f"{where}: 'method' must be \"POST\""
    url = value.get("url")
    if url not in BATCH_URLS:
        return None, f"{where}: 'url' must be one of {', '.join(BATCH_URLS)}, not {url!r}"
    body = value.get("body")
    if not isinstance(body, dict):
        return None, f"{where}: 'body' must be the request's JSON object"
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return None, f"{where}: 'body.model' is required (a model id '<provider-account>/<model>')"
    if body.get("stream") is True:
        return None, f"{where}: 'body.stream' must not be true (batch answers are stored, not streamed)"
    unknown = sorted(set(value) - {"custom_id", "method", "url", "body"})
    if unknown:
        return None, f"{where}: unknown field {unknown[0]!r} (a line has custom_id, method, url and body)"
    return RequestLine(number, custom_id, str(url), body), None


def parse(content: bytes) -> list[RequestLine]:
    """Every request of a batch input file, or InputFileError listing the lines at fault."""
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError([f"the file is not UTF-8 (byte {exc.start})"], 0) from None
    requests: list[RequestLine] = []
    problems: list[str] = []
    seen: set[str] = set()
    count = 0
    for number, raw in _lines(content):
        count = number
        request, problem = _problem(number, raw, seen)
        if problem is not None:
            problems.append(problem)
        elif request is not None:
            requests.append(request)
    if count == 0:
        problems.append("the file has no request lines")
    elif count > MAX_LINES:
        problems.append(f"the file has {count} lines; a batch holds at most {MAX_LINES} requests")
    if problems:
        raise InputFileError(problems, count)
    return requests


def for_endpoint(requests: list[RequestLine], endpoint: str) -> list[str]:
    """The lines whose url is not the batch's endpoint, as problems."""
    return [
        f"line {request.number}: 'url' is {request.url!r} but the batch's endpoint is {endpoint!r}"
        for request in requests
        if request.url != endpoint
    ]
