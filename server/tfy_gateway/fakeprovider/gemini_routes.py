"""Google's wire for the fake provider: Gemini API, Vertex AI (Gemini and Claude) and the OAuth token endpoint.

- Gemini: `POST /{v1|v1beta}/models/{model}:generateContent`, `:streamGenerateContent?alt=sse` (SSE,
  one GenerateContentResponse per `data:`; without `alt=sse` a JSON array of them), key in
  `x-goog-api-key` (or `?key=`).
- Vertex: `POST /{v1|v1beta1}/projects/{p}/locations/{l}/publishers/{pub}/models/{model}:{method}`,
  `Authorization: Bearer <token>`; publisher `anthropic` answers `rawPredict`/`streamRawPredict` with
  Anthropic's Messages (the body's `anthropic_version` is required, the model comes from the path).
- `POST /token`: Google's OAuth token endpoint for a service account's signed JWT grant
  (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=...`), answered with
  `{"access_token","expires_in","token_type"}`. It does not check the signature (tests do, with the
  public key); it checks the grant's shape and that the JWT asks for a scope and names this audience.
Errors are Google's `{"error": {"code", "message", "status", "details"}}`. Usage: `usageMetadata`
on every streamed chunk, cumulative, complete on the last one (the one with `finishReason`).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import orjson
from aiohttp import web

from tfy_gateway.fakeprovider import anthropic_routes, synth
from tfy_gateway.fakeprovider.calls import Call, FakeProviderState
from tfy_gateway.fakeprovider.wire import (
    Pacer,
    abort,
    error_response,
    generation_delay,
    json_response,
    sse_data,
    start_sse,
)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME_S = 3599
MAX_ISSUED = 10_000  # tokens remembered for Vertex's check (a fake serving a long benchmark stays bounded)
GENERATE = ("generateContent", "streamGenerateContent")
_DATED = re.compile(r"^(.*@\d{8})(?:@(.*))?$")  # claude-x@20250929 is a version, not knobs


def vertex_model(path_model: str) -> str:
    """The model as the knob parser reads it: a Vertex `@date` version stays part of the name."""
    dated = _DATED.match(path_model)
    if dated is None:
        return path_model
    name, spec = dated.groups()
    return name.replace("@", "~") + (f"@{spec}" if spec else "")


def _texts(parts: Any) -> Iterator[str]:
    for part in parts or ():
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            yield part["text"]
        for key in ("functionCall", "functionResponse"):
            if isinstance(part.get(key), dict):
                yield orjson.dumps(part[key]).decode()


def _last_turn(contents: list[Any]) -> tuple[str, str]:
    """(role, text) of the last turn; a user turn of function responses counts as role "tool"."""
    last = contents[-1] if isinstance(contents[-1], dict) else {}
    parts = last.get("parts") or []
    role = str(last.get("role") or "user")
    if any(isinstance(p, dict) and "functionResponse" in p for p in parts):
        role = "tool"
    return role, " ".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def _pick_tool(body: dict[str, Any], contents: list[Any]) -> tuple[str, dict[str, Any]] | None:
    tools = [
        (d["name"], d.get("parametersJsonSchema") or d.get("parameters") or {})
        for tool in body.get("tools") or ()
        if isinstance(tool, dict)
        for d in tool.get("functionDeclarations") or ()
        if isinstance(d, dict) and "name" in d
    ]
    config = ((body.get("toolConfig") or {}).get("functionCallingConfig")) or {}
    mode = config.get("mode", "AUTO")
    allowed = config.get("allowedFunctionNames") or []
    forced = allowed[0] if mode == "ANY" and len(allowed) == 1 else None
    role, text = _last_turn(contents)
    return synth.choose_tool(tools, forced, mode == "ANY", mode == "NONE", role, text)


def _usage(prompt: int, cached: int, output: int) -> dict[str, Any]:
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": output, "totalTokenCount": prompt + output}
    if cached:
        usage["cachedContentTokenCount"] = min(cached, prompt)
    return usage


def _response(call: Call, parts: list[dict[str, Any]], finish: str | None, usage: dict[str, Any]) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": call.model,
        "responseId": call.call_id,
    }


async def generate(call: Call, method: str) -> web.StreamResponse:
    """generateContent / streamGenerateContent for both services."""
    body = call.body
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return error_response(call.flavor, 400, "* GenerateContentRequest.contents: contents is not specified")
    system = (body.get("systemInstruction") or {}).get("parts")
    prompt = synth.count_tokens(
        [*_texts(system), *(t for c in contents if isinstance(c, dict) for t in _texts(c.get("parts")))]
    )
    cached = call.knobs.cached_tokens
    tool = _pick_tool(body, contents)
    stream = method == "streamGenerateContent"
    chunks: list[tuple[list[dict[str, Any]], str | None, int]]
    if tool is not None:
        name, schema = tool
        arguments = synth.arguments_for(schema)
        parts = [{"functionCall": {"name": name, "args": arguments}}]
        output = synth.count_tokens([name, orjson.dumps(arguments).decode()])
        chunks = [(parts, "STOP", output)]
    else:
        limit = (body.get("generationConfig") or {}).get("maxOutputTokens")
        wanted = call.knobs.tokens if call.knobs.tokens is not None else synth.DEFAULT_REPLY_TOKENS
        output = min(wanted, limit) if isinstance(limit, int) and limit > 0 else wanted
        finish = "MAX_TOKENS" if output < wanted else "STOP"
        words = synth.reply_words(call.model, _last_turn(contents)[1], output)
        if not stream:
            chunks = [([{"text": synth.join_words(words)}], finish, output)]
        else:
            per = call.knobs.chunk_tokens
            pieces = synth.stream_pieces(words, per)
            chunks = [
                ([{"text": piece}], finish if i == len(pieces) - 1 else None, min(output, (i + 1) * per))
                for i, piece in enumerate(pieces)
            ]
    answers = [_response(call, p, f, _usage(prompt, cached, n)) for p, f, n in chunks]
    if not stream:
        await generation_delay(call.knobs.ttft_ms, call.knobs.tpot_ms, output)
        return json_response(answers[0])
    if call.request.query.get("alt") != "sse":
        await generation_delay(call.knobs.ttft_ms, call.knobs.tpot_ms, output)
        return json_response(answers)
    return await _stream(call, answers)


async def _stream(call: Call, answers: list[dict[str, Any]]) -> web.StreamResponse:
    response = await start_sse(call.request)
    pacer = Pacer(call.knobs.ttft_ms, call.knobs.tpot_ms)
    per = call.knobs.chunk_tokens
    drop_after, cut_after = call.knobs.drop_after, call.knobs.cut_after
    for i, answer in enumerate(answers):
        if drop_after is not None and i * per >= drop_after:
            abort(call.request)
            return response
        if cut_after is not None and i * per >= cut_after:
            await response.write_eof()  # a well-formed end of the body, but no finishReason came
            return response
        await pacer.before_token(i * per)
        await response.write(sse_data(answer))
    await response.write_eof()
    return response


async def raw_predict(call: Call, method: str) -> web.StreamResponse:
    """Claude on Vertex: Anthropic's Messages with the model from the path."""
    version = call.body.get("anthropic_version")
    if not isinstance(version, str) or not version.startswith("vertex-"):
        return error_response(call.flavor, 400, "anthropic_version: must be set, e.g. vertex-2023-10-16")
    if "model" in call.body:
        return error_response(call.flavor, 400, "model: not allowed in the body on Vertex (it is in the URL)")
    if (method == "streamRawPredict") != (call.body.get("stream") is True):
        return error_response(call.flavor, 400, f"{method}: stream must be {method == 'streamRawPredict'}")
    return await anthropic_routes.messages(call)


def _split_call(value: str) -> tuple[str, str]:
    model, _, method = value.rpartition(":")
    return model, method


def gemini_endpoint(state: FakeProviderState) -> Any:
    """`/{version}/models/{call}`: the Gemini API."""

    async def endpoint(request: web.Request) -> web.StreamResponse:
        model, method = _split_call(request.match_info["call"])
        if method not in GENERATE:
            return error_response("gemini", 404, f"method {method!r} is not served by the fake provider")
        call = await state.prepare(request, "gemini", model)
        if isinstance(call, web.StreamResponse):
            return call
        return await generate(call, method)

    return endpoint


def vertex_endpoint(state: FakeProviderState) -> Any:
    """`/{version}/projects/{p}/locations/{l}/publishers/{pub}/models/{call}`: Vertex AI."""

    async def endpoint(request: web.Request) -> web.StreamResponse:
        model, method = _split_call(request.match_info["call"])
        publisher = request.match_info["publisher"]
        methods = (
            ("rawPredict", "streamRawPredict")
            if publisher == "anthropic"
            else ("generateContent", "streamGenerateContent")
        )
        if method not in methods:
            return error_response("vertex", 404, f"publisher {publisher!r} has no method {method!r} here")
        call = await state.prepare(request, "vertex", vertex_model(model))
        if isinstance(call, web.StreamResponse):
            return call
        call.model = call.model.replace("~", "@")
        if publisher == "anthropic":
            return await raw_predict(call, method)
        return await generate(call, method)

    return endpoint


def _claims(assertion: str) -> dict[str, Any] | None:
    """The JWT's payload, unverified (the fake takes any signature; tests verify it)."""
    pieces = assertion.split(".")
    if len(pieces) != 3:
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(pieces[1] + "=" * (-len(pieces[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _oauth_error(error: str, description: str) -> web.Response:
    return json_response({"error": error, "error_description": description}, status=400)


def token_endpoint(state: FakeProviderState) -> Any:
    """`POST /token`: a service account's JWT grant -> an access token (Google's wire format)."""

    async def endpoint(request: web.Request) -> web.StreamResponse:
        state.served += 1
        form = {key: values[0] for key, values in parse_qs((await request.read()).decode("utf-8", "replace")).items()}
        if state.record:
            state.requests.append(
                {"method": "POST", "path": request.path, "query": dict(request.query), "headers": {}, "body": form}
            )
        if form.get("grant_type") != JWT_GRANT:
            return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}")
        claims = _claims(form.get("assertion", ""))
        if claims is None:
            return _oauth_error("invalid_grant", "Invalid JWT: the assertion is not a JWT")
        if not claims.get("iss") or not claims.get("scope"):
            return _oauth_error("invalid_scope", "Invalid JWT: iss and scope are required")
        if not str(claims.get("aud", "")).endswith("/token"):
            return _oauth_error("invalid_grant", "Invalid JWT: aud must be the token endpoint")
        if int(claims.get("exp", 0)) < time.time():
            return _oauth_error(
                "invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe"
            )
        token = "ya29.fake-" + hashlib.blake2b(form["assertion"].encode(), digest_size=12).hexdigest()
        if len(state.issued_tokens) < MAX_ISSUED:
            state.issued_tokens.add(token)
        return json_response({"access_token": token, "expires_in": TOKEN_LIFETIME_S, "token_type": "Bearer"})

    return endpoint
