"""The OpenAI-compatible endpoints the data plane serves, and what each requires of a body.

Validation is a few `isinstance` checks on the parsed JSON (no pydantic on the hot path): enough to
answer a precise 400/422 instead of forwarding garbage upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tfy_gateway.gateway.data_plane.body_checks import check_body
from tfy_gateway.gateway.data_plane.failures import bad_request
from tfy_gateway.gateway.providers import Endpoint

PREFIXES = ("v1/", "api/inference/openai/", "api/inference/openai/v1/")
"""Aliases under /api/llm: /api/llm/v1/... and the older /api/llm/api/inference/openai/..."""

Check = Callable[[Any], bool]


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_messages(value: Any) -> bool:
    if not isinstance(value, list) or not value:
        return False
    for message in value:  # noqa: SIM110  (a plain loop: no generator object per request)
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return False
    return True


def _is_prompt(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and bool(value))


def _is_input(value: Any) -> bool:
    if isinstance(value, str):
        return value != ""
    return isinstance(value, list) and bool(value)


def _is_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value)


@dataclass(frozen=True)
class Field:
    name: str
    check: Check
    expected: str  # for the error message
    required: bool = True  # False: null or absent is valid (OpenAI's default applies upstream)


@dataclass(frozen=True)
class EndpointSpec:
    name: Endpoint
    path: str
    required: tuple[Field, ...] = ()
    streams: bool = False
    multipart: bool = False
    uploads: tuple[str, ...] = ("file",)  # multipart: one of these fields must be a file upload


_MODEL = Field("model", _is_text, "a model id '<provider-account>/<model>' (GET /api/llm/models lists yours)")

ENDPOINTS: Mapping[str, EndpointSpec] = {
    spec.path: spec
    for spec in (
        EndpointSpec(
            "chat",
            "chat/completions",
            (_MODEL, Field("messages", _is_messages, "a non-empty list of {role, content} objects")),
            streams=True,
        ),
        EndpointSpec(
            "completions",
            "completions",
            (_MODEL, Field("prompt", _is_prompt, "a string or list", required=False)),  # null: <|endoftext|>
            streams=True,
        ),
        EndpointSpec(
            "embeddings",
            "embeddings",
            (_MODEL, Field("input", _is_input, "a non-empty string or a non-empty list of strings/token ids")),
        ),
        EndpointSpec("moderations", "moderations", (_MODEL, Field("input", _is_input, "a string or list"))),
        EndpointSpec(
            "rerank",
            "rerank",
            (_MODEL, Field("query", _is_text, "a string"), Field("documents", _is_list, "a non-empty list")),
        ),
        EndpointSpec(
            "images", "images/generations", (_MODEL, Field("prompt", _is_text, "a non-empty string")), streams=True
        ),
        EndpointSpec("speech", "audio/speech", (_MODEL, Field("input", _is_text, "a non-empty string"))),
        EndpointSpec("transcriptions", "audio/transcriptions", (_MODEL,), multipart=True, streams=True),
        EndpointSpec("translations", "audio/translations", (_MODEL,), multipart=True),
        EndpointSpec(
            "image_edits",
            "images/edits",
            (_MODEL, Field("prompt", _is_text, "a non-empty string")),
            multipart=True,
            uploads=("image", "image[]"),
        ),
        EndpointSpec("responses", "responses", (_MODEL,), streams=True),
    )
}

UNSUPPORTED = {
    "fine_tuning/jobs": "fine-tuning jobs",
    "images/variations": "image variations",
    "realtime": "the Realtime API",
}


def route_of(rest: str) -> str:
    """The endpoint path without an alias prefix: `v1/chat/completions` -> `chat/completions`."""
    rest = rest.strip("/")
    for prefix in PREFIXES[::-1]:
        if rest.startswith(prefix):
            return rest[len(prefix) :]
    return rest


MAX_MODEL_NAME = 256  # the longest model id a request may name (an account and an integration name)


def validate(spec: EndpointSpec, body: dict[str, Any]) -> None:
    """Raise 400 for a missing required field, 422 for one of the wrong shape."""
    model = body.get("model")
    if isinstance(model, str) and len(model) > MAX_MODEL_NAME:
        raise bad_request(
            f"'model' is {len(model)} characters long; model ids are at most {MAX_MODEL_NAME} "
            "(GET /api/llm/models lists yours).",
            "model",
        )
    for field in spec.required:
        value = body.get(field.name)
        if value is None and not field.required:
            continue
        if value is None:
            raise bad_request(
                f"'{field.name}' is required for /{spec.path}: {field.expected}.",
                field.name,
                code="missing_required_parameter",
            )
        if not field.check(value):
            raise bad_request(
                f"'{field.name}' is invalid for /{spec.path}: expected {field.expected}.", field.name, status=422
            )
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad_request("'stream' must be true or false.", "stream", status=422)
    if stream and not spec.streams:
        raise bad_request(f"/{spec.path} does not support streaming; remove 'stream'.", "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object, e.g. {\"include_usage\": true}.", "stream_options", 422)
    tools = body.get("tools")
    if (
        tools is not None
        and spec.name != "responses"
        and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools))
    ):
        raise bad_request("'tools' must be a list of tool objects.", "tools", status=422)
    check_body(spec.name, body)
