"""The fake provider's aiohttp application: route table and control endpoints.

aiohttp.web rather than Starlette on uvicorn because it is cheaper per request here (measured on the
2-core dev box with a minimal JSON endpoint at 32 connections: ~79 us of server CPU per request vs ~144 us
for a pure ASGI app on uvicorn without httptools), and the fake provider must never be the bottleneck of
a gateway benchmark.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from tfy_gateway.fakeprovider import (
    anthropic_routes,
    bedrock_routes,
    gemini_routes,
    media_routes,
    openai_routes,
    responses_routes,
)
from tfy_gateway.fakeprovider.calls import Call, FakeProviderState
from tfy_gateway.fakeprovider.wire import Flavor, json_response

Handler = Callable[[Call], Awaitable[web.StreamResponse]]

STATE_KEY = web.AppKey("fake_provider_state", FakeProviderState)
KNOBS_PREFIX = "/knobs/{knobs}"
DEFAULT_MODELS = ("fake-model", "gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "claude-sonnet-4-5")

_OPENAI_ROUTES: tuple[tuple[str, Handler], ...] = (
    ("/v1/chat/completions", openai_routes.chat_completions),
    ("/v1/completions", openai_routes.completions),
    ("/v1/embeddings", openai_routes.embeddings),
    ("/v1/moderations", media_routes.moderations),
    ("/v1/rerank", media_routes.rerank),
    ("/v2/rerank", media_routes.rerank),
    ("/v1/images/generations", media_routes.image_generations),
    ("/v1/audio/speech", media_routes.speech),
    ("/v1/audio/transcriptions", media_routes.transcriptions),
    ("/v1/audio/translations", media_routes.translations),
    ("/v1/images/edits", media_routes.image_edits),
    ("/v1/responses", responses_routes.responses),
)
_AZURE_ROUTES: tuple[tuple[str, Handler], ...] = (
    ("/openai/deployments/{deployment}/chat/completions", openai_routes.chat_completions),
    ("/openai/deployments/{deployment}/completions", openai_routes.completions),
    ("/openai/deployments/{deployment}/embeddings", openai_routes.embeddings),
)


def _endpoint(
    state: FakeProviderState, flavor: Flavor, handler: Handler
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def endpoint(request: web.Request) -> web.StreamResponse:
        deployment = request.match_info.get("deployment") if flavor == "azure" else None
        if flavor == "bedrock":
            deployment = request.match_info["model_id"]  # the model is in the path, percent-decoded
        try:
            call = await state.prepare(request, flavor, deployment)
            if isinstance(call, web.StreamResponse):
                return call
            return await handler(call)
        except ConnectionResetError:  # the client closed the connection mid-stream (noticed on a write)
            state.disconnects += 1
            return web.Response(status=499)
        except asyncio.CancelledError:  # the client went away while we waited (the runners cancel handlers)
            state.disconnects += 1
            raise

    return endpoint


def _models_endpoint(state: FakeProviderState) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def endpoint(request: web.Request) -> web.StreamResponse:
        flavor: Flavor = "anthropic" if request.headers.get("anthropic-version") else "openai"
        call = await state.prepare(request, flavor, "")
        if isinstance(call, web.StreamResponse):
            return call
        return media_routes.list_models(call, state.models)

    return endpoint


def create_fake_provider_app(
    *,
    api_key: str | None = None,
    record_requests: int = 256,
    models: tuple[str, ...] = DEFAULT_MODELS,
) -> web.Application:
    """Build the fake provider.

    api_key: when set, every request must carry it (Bearer / x-api-key / api-key) unless a request's
      `api_key` knob names another one.
    record_requests: how many recent requests `GET /_fake/requests` keeps (0 disables recording).
    models: ids listed by `GET /v1/models`.
    """
    state = FakeProviderState(api_key, record_requests, models)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE_KEY] = state
    router = app.router
    for prefix in ("", KNOBS_PREFIX):
        for path, handler in _OPENAI_ROUTES:
            router.add_post(prefix + path, _endpoint(state, "openai", handler))
        for path, handler in _AZURE_ROUTES:
            router.add_post(prefix + path, _endpoint(state, "azure", handler))
        router.add_post(prefix + "/v1/messages", _endpoint(state, "anthropic", anthropic_routes.messages))
        for action in ("converse", "converse-stream"):
            router.add_post(
                prefix + "/model/{model_id}/" + action, _endpoint(state, "bedrock", bedrock_routes.converse)
            )
        router.add_get(prefix + "/v1/models", _models_endpoint(state))
        for version in ("v1", "v1beta", "v1beta1"):
            router.add_post(prefix + f"/{version}/models/{{call}}", gemini_routes.gemini_endpoint(state))
            vertex = f"/{version}/projects/{{project}}/locations/{{location}}/publishers/{{publisher}}/models/{{call}}"
            router.add_post(prefix + vertex, gemini_routes.vertex_endpoint(state))
        router.add_post(prefix + "/token", gemini_routes.token_endpoint(state))

    async def recorded(request: web.Request) -> web.Response:
        return json_response({"data": list(state.requests)})

    async def stats(request: web.Request) -> web.Response:
        return json_response({"requests": state.served, "disconnects": state.disconnects})

    async def reset(request: web.Request) -> web.Response:
        state.reset()
        return json_response({"status": "ok"})

    async def health(request: web.Request) -> web.Response:
        return json_response({"status": "ok"})

    router.add_get("/_fake/requests", recorded)
    router.add_get("/_fake/stats", stats)
    router.add_post("/_fake/reset", reset)
    router.add_get("/health", health)
    return app
