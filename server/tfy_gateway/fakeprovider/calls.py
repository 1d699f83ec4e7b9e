"""The per-request preamble shared by every fake endpoint: body, knobs, auth, latency, faults.

`prepare()` returns a `Call` for the endpoint handler, or the ready error response (bad JSON, bad
knob, missing credentials, injected fault) in the calling provider's own error format.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tfy_gateway.fakeprovider.knobs import KnobBook, KnobError, Knobs, split_model
from tfy_gateway.fakeprovider.synth import EmbeddingCache
from tfy_gateway.fakeprovider.wire import Flavor, error_response, google_error_body, json_response

_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key"})


@dataclass
class Call:
    request: web.Request
    flavor: Flavor
    body: dict[str, Any]
    raw: bytes
    model: str
    knobs: Knobs
    vectors: EmbeddingCache
    files: dict[str, list[web.FileField]] = field(default_factory=dict)

    @property
    def call_id(self) -> str:
        """A short id that depends only on the request body (deterministic responses)."""
        return hashlib.blake2b(self.raw, digest_size=8).hexdigest()


class FakeProviderState:
    """Everything the fake provider keeps between requests; one instance per app."""

    def __init__(self, api_key: str | None, record_requests: int, models: tuple[str, ...]) -> None:
        self.api_key = api_key
        self.models = models
        self.book = KnobBook()
        self.vectors = EmbeddingCache()
        self.requests: deque[dict[str, Any]] = deque(maxlen=record_requests)
        self.record = record_requests > 0
        self.served = 0
        self.disconnects = 0  # responses cut short because the client went away
        self.issued_tokens: set[str] = set()  # OAuth tokens `POST /token` gave out (Vertex takes them)

    def reset(self) -> None:
        self.book.reset()
        self.requests.clear()
        self.served = 0
        self.disconnects = 0

    async def prepare(self, request: web.Request, flavor: Flavor, model: str | None = None) -> Call | web.Response:
        self.served += 1
        body, raw, files = await _read_body(request)
        if not isinstance(body, dict):
            return error_response(flavor, 400, "request body must be a JSON object")
        full_model = model if model is not None else body.get("model")
        if not isinstance(full_model, str):
            full_model = ""
        base_model, model_spec = split_model(full_model)
        path_spec = request.match_info.get("knobs", "")
        try:
            knobs = self.book.knobs(path_spec, model_spec)
        except KnobError as exc:
            return error_response(flavor, 400, f"fake provider: {exc}")
        if self.record:
            self.requests.append(_record(request, body))
        denied = _check_auth(request, flavor, knobs.api_key or self.api_key, self.issued_tokens)
        if denied is not None:
            return denied
        if knobs.latency_ms:
            await asyncio.sleep(knobs.latency_ms / 1000)
        if self.book.should_fail(path_spec, model_spec, knobs):
            status = knobs.error_status
            return error_response(flavor, status, f"fake provider: injected error (status {status})", knobs.retry_after)
        return Call(request, flavor, body, raw, base_model, knobs, self.vectors, files)


async def _read_body(request: web.Request) -> tuple[Any, bytes, dict[str, list[web.FileField]]]:
    if request.method == "GET":
        return {}, b"", {}
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        fields: dict[str, Any] = {}
        files: dict[str, list[web.FileField]] = {}
        for name, value in form.items():  # every value of a repeated field, in order
            if isinstance(value, web.FileField):
                files.setdefault(name, []).append(value)
            elif name.endswith("[]") or name in fields:
                previous = fields.get(name, [])
                fields[name] = [*(previous if isinstance(previous, list) else [previous]), value]
            else:
                fields[name] = value
        return fields, orjson.dumps(fields), files
    raw = await request.read()
    if not raw:
        return {}, raw, {}
    try:
        return orjson.loads(raw), raw, {}
    except orjson.JSONDecodeError:
        return None, raw, {}


def _fingerprint(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]


def _record(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    """What a test may inspect later; credential headers are replaced by a fingerprint."""
    headers = {
        name.lower(): (_fingerprint(value) if name.lower() in _SECRET_HEADERS else value)
        for name, value in request.headers.items()
    }
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    return {
        "client_port": peer[1] if peer else None,
        "method": request.method,
        "path": request.path,
        "raw_path": request.raw_path,  # as sent (percent-escapes kept), what a SigV4 signature covers
        "query": dict(request.query),
        "headers": headers,
        "body": body,
    }


def _check_auth(
    request: web.Request, flavor: Flavor, required: str | None, issued: set[str] | frozenset[str] = frozenset()
) -> web.Response | None:
    headers = request.headers
    if flavor == "anthropic":
        key = headers.get("x-api-key")
        if not key:
            return error_response(flavor, 401, "x-api-key header is required")
        if required is not None and key != required:
            return error_response(flavor, 401, "invalid x-api-key")
        if not headers.get("anthropic-version"):
            return error_response(flavor, 400, "anthropic-version: header is required")
        return None
    if flavor == "azure":
        if not request.query.get("api-version"):
            return error_response(flavor, 404, "Resource not found: the api-version query parameter is required")
        key = headers.get("api-key")
        if not key:
            return error_response(
                flavor, 401, "Access denied due to missing subscription key. Include the api-key header."
            )
        if required is not None and key != required:
            return error_response(flavor, 401, "Access denied due to invalid subscription key or wrong API endpoint.")
        return None
    if flavor == "gemini":
        return _check_gemini_key(request, required)
    if flavor == "vertex":
        return _check_vertex_token(request, required, issued)
    if flavor == "bedrock":
        return _check_bedrock_auth(headers, required)
    if required is None:
        return None
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return error_response(flavor, 401, "You didn't provide an API key (Authorization: Bearer ...).")
    if token != required:
        return error_response(flavor, 401, "Incorrect API key provided.")
    return None


def _check_gemini_key(request: web.Request, required: str | None) -> web.Response | None:
    """The Gemini API's own answers: no key is a 403, a wrong one a 400 with reason API_KEY_INVALID."""
    key = request.headers.get("x-goog-api-key") or request.query.get("key")
    if not key:
        return json_response(
            google_error_body(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            ),
            status=403,
        )
    if required is not None and key != required:
        body = google_error_body(400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID")
        return json_response(body, status=400)
    return None


def _check_vertex_token(
    request: web.Request, required: str | None, issued: set[str] | frozenset[str]
) -> web.Response | None:
    """Vertex wants an OAuth bearer token; when a key is `required`, only it or a token this fake issued."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token or (required is not None and token != required and token not in issued):
        message = (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
            "other valid authentication credential."
        )
        return json_response(google_error_body(401, message, "ACCESS_TOKEN_TYPE_UNSUPPORTED"), status=401)
    return None


def _check_bedrock_auth(headers: Mapping[str, str], required: str | None) -> web.Response | None:
    """Bedrock: a bearer API key (checked against `required`) or a SigV4 signature (its shape only:
    the fake provider does not know the secret key)."""
    scheme, _, rest = headers.get("authorization", "").partition(" ")
    if scheme == "AWS4-HMAC-SHA256":
        if "Credential=" not in rest or "Signature=" not in rest or not headers.get("x-amz-date"):
            return error_response(
                "bedrock", 403, "The request signature we calculated does not match the signature you provided."
            )
        return None
    if scheme.lower() != "bearer" or not rest:
        return error_response(
            "bedrock", 403, "Authorization header requires a Bearer API key or an AWS SigV4 signature."
        )
    if required is not None and rest != required:
        return error_response("bedrock", 403, "The security token included in the request is invalid.")
    return None
