"""The benchmark's floor for this stack: a minimal Starlette + aiohttp forwarding proxy on uvicorn.

It does what any proxy in front of an OpenAI-compatible upstream must do and nothing else: read the
body, forward it with the caller's authorization to `<upstream>/v1/chat/completions` over one
pooled aiohttp session (no connection limit, as the gateway's transport), and answer with the
upstream's status and body; a `text/event-stream` answer is relayed chunk by chunk as it arrives.
No auth, routing, limits, logs or metrics: whatever the gateway costs above this is its own.
Same server as the gateway (uvicorn, uvloop and httptools when installed, no access log).

    python scripts/minimal_proxy.py --port 9200 --upstream http://127.0.0.1:9100
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

FORWARDED = ("authorization", "content-type")


def create_app(upstream: str) -> Starlette:
    target = upstream.rstrip("/") + "/v1/chat/completions"
    holder: dict[str, aiohttp.ClientSession] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as session:
            holder["session"] = session
            yield

    async def chat(request: Request) -> Response:
        body = await request.body()
        headers = {name: request.headers[name] for name in FORWARDED if name in request.headers}
        upstream_response = await holder["session"].post(target, data=body, headers=headers)
        content_type = upstream_response.headers.get("content-type", "application/json")
        if content_type.startswith("text/event-stream"):

            async def relay() -> AsyncIterator[bytes]:
                try:
                    while chunk := await upstream_response.content.readany():
                        yield chunk
                finally:
                    upstream_response.release()

            return StreamingResponse(relay(), status_code=upstream_response.status, media_type="text/event-stream")
        data = await upstream_response.read()
        upstream_response.release()
        return Response(data, status_code=upstream_response.status, media_type=content_type)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/chat/completions", chat, methods=["POST"]),
        Route("/health", health),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="base URL of the upstream, e.g. http://127.0.0.1:9100")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.upstream),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
