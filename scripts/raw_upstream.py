"""The benchmark's ceiling: an upstream that answers every POST with a fixed OpenAI chat completion.

Plain asyncio streams (no framework, no parsing beyond what HTTP/1.1 keep-alive needs), so that it
costs as little as a Python server can and the proxies in front of it are what the benchmark sees.
Any POST path answers (OpenAI `/v1/chat/completions`, Azure `/openai/deployments/...`, LiteLLM's
calls alike; a path ending in `/responses` gets a fixed Responses API object instead); a body with
`"stream": true` gets an SSE stream of `--chunks` deltas, `--interval-ms` apart (so that time to
first token and total time differ), then `data: [DONE]`. `GET /health` and `GET /v1/models` answer
too. One process, one event loop (uvloop when installed).

    python scripts/raw_upstream.py --port 9100 [--chunks 16] [--interval-ms 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "A fixed benchmark reply of sixteen tokens or so, always."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 8, "completion_tokens": 16, "total_tokens": 24},
    },
    separators=(",", ":"),
).encode()
RESPONSE = json.dumps(
    {
        "id": "resp_bench",
        "object": "response",
        "created_at": 1700000000,
        "status": "completed",
        "model": "gpt-4o",
        "output": [
            {
                "type": "message",
                "id": "msg_bench",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {
                        "type": "output_text",
                        "text": "A fixed benchmark reply of sixteen tokens or so, always.",
                        "annotations": [],
                    }
                ],
            }
        ],
        "usage": {"input_tokens": 8, "output_tokens": 16, "total_tokens": 24},
    },
    separators=(",", ":"),
).encode()
MODELS = json.dumps({"object": "list", "data": [{"id": "gpt-4o", "object": "model", "owned_by": "bench"}]}).encode()
STREAM_FLAG = re.compile(rb'"stream"\s*:\s*true')
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
CLOSE = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)


def plain(status: str, body: bytes, content_type: bytes = b"application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: ".encode() + content_type
    return head + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def sse_delta(index: int, last: bool) -> bytes:
    choice: dict[str, object] = {"index": 0, "delta": {"content": f"tok{index} "}, "finish_reason": None}
    if last:
        choice = {"index": 0, "delta": {}, "finish_reason": "stop"}
    event: dict[str, object] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o",
        "choices": [choice],
    }
    if last:
        event["usage"] = {"prompt_tokens": 8, "completion_tokens": index, "total_tokens": 8 + index}
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


class Upstream:
    """The connection handler; `chunks` and `interval` shape streamed answers."""

    def __init__(self, chunks: int, interval_s: float) -> None:
        self.deltas = [sse_delta(i, False) for i in range(chunks)] + [sse_delta(chunks, True)]
        self.interval_s = interval_s
        self.completion = plain("200 OK", COMPLETION)
        self.response = plain("200 OK", RESPONSE)
        self.models = plain("200 OK", MODELS)
        self.health = plain("200 OK", b'{"status":"ok"}')
        self.not_found = plain("404 Not Found", b'{"error":{"message":"not found"}}')

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = CONTENT_LENGTH.search(head)
                body = await reader.readexactly(int(length.group(1))) if length else b""
                if head.startswith(b"POST "):
                    if STREAM_FLAG.search(body):
                        await self.stream(writer)
                    elif b"/responses " in head.split(b"\r\n", 1)[0]:
                        writer.write(self.response)
                    else:
                        writer.write(self.completion)
                elif head.startswith(b"GET /health"):
                    writer.write(self.health)
                elif head.startswith(b"GET ") and b"/models" in head.split(b"\r\n", 1)[0]:
                    writer.write(self.models)
                else:
                    writer.write(self.not_found)
                await writer.drain()
                if CLOSE.search(head):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # shutting down with this connection open: nothing to finish
            pass
        finally:
            writer.close()

    async def stream(self, writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        for delta in self.deltas:
            writer.write(chunk(delta))
            await writer.drain()
            if self.interval_s:
                await asyncio.sleep(self.interval_s)
        writer.write(chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")


async def serve(host: str, port: int, chunks: int, interval_s: float) -> None:
    upstream = Upstream(chunks, interval_s)
    server = await asyncio.start_server(upstream.handle, host, port, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=16, help="content deltas per stream (default 16)")
    parser.add_argument("--interval-ms", type=float, default=1.0, help="pause between stream deltas (default 1)")
    args = parser.parse_args()
    if args.chunks < 1 or args.interval_ms < 0:
        parser.error("--chunks must be >= 1 and --interval-ms >= 0")
    main_task = serve(args.host, args.port, args.chunks, args.interval_ms / 1000)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main_task)
    else:
        uvloop.run(main_task)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
