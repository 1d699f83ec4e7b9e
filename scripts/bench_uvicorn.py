"""uvicorn's own CPU per request with serve's protocol against uvicorn's stock httptools protocol.

A real uvicorn server (uvloop, httptools, one process) runs a raw ASGI app that does what the data
plane does at its edges and nothing else: read the body, answer JSON with the gateway's dozen
response headers. wrk drives it with bench_compare's request (POST, JSON body, bearer token,
x-tfy-metadata). What is left is the server's work per request: parsing, the scope, the task, the
head's encoding and the writes. Rounds alternate between the protocols, each in a fresh server
process; the figure is the server process's CPU (user + system) per request.

    python scripts/bench_uvicorn.py --levels 1,32 --rounds 5 --seconds 3
    python scripts/bench_uvicorn.py --protocols uvicorn,serve --gateway-source ../wt-old/server
    python scripts/bench_uvicorn.py --profile serve       # a cProfile table of the server at c=1
    python scripts/bench_uvicorn.py --gateway gateway-examples --baseline-source ../wt-old/server --rounds 8

`--gateway SYSTEM` runs bench_compare's SYSTEM (gateway-bare, gateway-examples, ...) from this checkout
(or --gateway-source) and from --baseline-source side by side against one raw upstream, both started
once, and alternates wrk runs between them: the same machine state for both, round by round. With
`--together` both are loaded at once, each by its own wrk (on a busy machine, whose state moves within
seconds, the fairer comparison).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import loadgen, procstat

ROOT = Path(__file__).resolve().parent.parent

APP_SOURCE = r"""
BODY = b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,' + \
    b'"message":{"role":"assistant","content":"' + b"x" * 400 + b'"},"finish_reason":"stop"}],' + \
    b'"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}'
LENGTH = str(len(BODY)).encode()

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", LENGTH),
        (b"x-tfy-resolved-model", b"bench/gpt-4o"),
        (b"x-tfy-applied-configurations", b'{"load_balancing":{"config":"c","rule_id":"r","strategy":"weight"}}'),
        (b"x-ratelimit-limit-requests", b"1000000"),
        (b"x-ratelimit-remaining-requests", b"999999"),
        (b"x-ratelimit-reset-requests", b"60"),
        (b"server-timing", b"gateway;dur=0.123, provider;dur=0.211, total;dur=0.334"),
        (b"x-tfy-cost", b"0.000123"),
        (b"x-tfy-request-id", b"0192aabbccddeeff0011223344556677"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY, "more_body": False})

def pick_protocol(name):
    if name == "uvicorn":
        return "httptools"
    from tfy_gateway.cli import uvicorn_http
    return getattr(uvicorn_http, "ServeHttpToolsProtocol", None) or uvicorn_http.OneWriteHttpToolsProtocol
"""

TRANSPORT_SOURCE = r"""
class Transport:
    def __init__(self): self.closing = False; self.last = b""
    def write(self, data):
        if data.startswith(b"HTTP/"): self.last = data  # the last head written
    def is_closing(self): return self.closing
    def close(self): self.closing = True
    def pause_reading(self): pass
    def resume_reading(self): pass
    def get_extra_info(self, name, default=None):
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)
"""

FEED_SOURCE = r"""
async def feed(app, request, protocol_name, warm, batches, size):
    # the least thread CPU per request (µs) of `batches` of `size` requests fed to the protocol
    config = uvicorn.Config(app, http=pick_protocol(protocol_name), lifespan="off", log_level="warning",
                            access_log=False, server_header=False)
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Mon, 07 Dec 2026 17:00:00 GMT")]
    protocol = config.http_protocol_class(config=config, server_state=state, app_state={},
                                          _loop=asyncio.get_running_loop())
    transport = Transport()
    protocol.connection_made(transport)
    async def batch(n):
        for _ in range(n):
            done = state.total_requests + 1
            protocol.data_received(request)
            while state.total_requests < done:
                await asyncio.sleep(0)
    await batch(warm)
    assert transport.last.startswith(b"HTTP/1.1 200 "), transport.last[:300]
    best = float("inf")
    for _ in range(batches):
        start = time.thread_time_ns()
        await batch(size)
        best = min(best, (time.thread_time_ns() - start) / size / 1000)
    return best
"""

SERVER = r"""
import asyncio, cProfile, os, pstats, signal, sys
protocol_name, port, source, profile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if source:
    sys.path.insert(0, source)
import uvicorn

exec(APP_SOURCE)

http = pick_protocol(protocol_name)
config = uvicorn.Config(app, host="127.0.0.1", port=port, loop="uvloop", http=http, lifespan="on",
                        access_log=False, server_header=False, ws="none", log_level="warning")
server = uvicorn.Server(config)
import time
profiler = cProfile.Profile(time.thread_time_ns, 1e-9) if profile else None
if profiler:
    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
    signal.signal(signal.SIGUSR2, lambda *_: setattr(server, "should_exit", True))  # uvicorn re-raises SIGTERM
server.run()
if profiler:
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
    sys.stdout.flush()
"""

OWN = r"""
import asyncio, sys, time
protocol_name, source, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if source:
    sys.path.insert(0, source)
import uvloop, uvicorn
from uvicorn.server import ServerState
exec(APP_SOURCE)
exec(TRANSPORT_SOURCE)
exec(FEED_SOURCE)

PAYLOAD = b'{"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "Say hello in one sentence."}]}'
REQUEST = (
    b"POST /api/llm/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    b"Authorization: Bearer tfy-bench-0123456789abcdef0123456789abcdef\r\n"
    b'x-tfy-metadata: {"project_id": "pilot-42", "environment": "production"}\r\n'
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(PAYLOAD), PAYLOAD)
)

async def main():
    print(f"OWN {await feed(app, REQUEST, protocol_name, 2000, batches, size):.3f}")
uvloop.run(main())
"""

GATEWAY_OWN = r"""
import asyncio, json, os, sys, time
protocol_name, source, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
spec = json.loads(sys.argv[5])
sys.path.insert(0, source)
os.environ.update(spec["env"])
import uvloop, uvicorn
from pathlib import Path
from uvicorn.server import ServerState
from tfy_gateway.gateway.app import create_app
from tfy_gateway.gateway.providers.aiohttp_transport import AiohttpTransport
from tfy_gateway.gateway.settings import GatewaySettings
exec(APP_SOURCE)
exec(TRANSPORT_SOURCE)
exec(FEED_SOURCE)

class Replay:
    def __init__(self, real): self.real = real; self.answer = None
    async def post(self, request):
        if self.answer is None:
            self.answer = await self.real.post(request)
        return self.answer
    async def open_stream(self, request): return await self.real.open_stream(request)
    async def aclose(self): await self.real.aclose()

PAYLOAD = json.dumps({"model": spec["model"], "messages": [{"role": "user", "content": "benchmark"}]}).encode()
REQUEST = (
    b"POST /api/llm/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    + b"Authorization: Bearer %b\r\n" % spec["token"].encode()
    + (b"x-tfy-metadata: %b\r\n" % spec["metadata"].encode() if spec["metadata"] else b"")
    + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(PAYLOAD), PAYLOAD)
)

async def main():
    replay = Replay(AiohttpTransport())
    settings = GatewaySettings(data_dir=Path(spec["data_dir"]), admin_token=spec["token"])
    app = create_app(settings, transport=replay, tune_gc=True)
    async with app.router.lifespan_context(app):
        best = await feed(app, REQUEST, protocol_name, 500, batches, size)
    await replay.aclose()
    print(f"OWN {best:.3f}")
uvloop.run(main())
"""


def script(template: str) -> str:
    """A child's code: `template` with the shared parts in place of their `exec(...)` lines."""
    parts = {"APP_SOURCE": APP_SOURCE, "TRANSPORT_SOURCE": TRANSPORT_SOURCE, "FEED_SOURCE": FEED_SOURCE}
    for name, part in parts.items():
        template = template.replace(f"exec({name})", part)
    return template


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(protocol: str, source: str, profile: bool = False) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=source or str(ROOT / "server"))
    command = [
        sys.executable,
        "-c",
        script(SERVER),
        protocol,
        str(port),
        source,
        "1" if profile else "",
    ]
    process = subprocess.Popen(command, env=env, stdout=None if profile else subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{protocol} did not start")


def target(port: int) -> loadgen.Target:
    headers = {
        "Authorization": "Bearer tfy-bench-0123456789abcdef0123456789abcdef",
        "x-tfy-metadata": '{"project_id": "pilot-42", "environment": "production"}',
    }
    body = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}
    return loadgen.Target(f"http://127.0.0.1:{port}/api/llm/chat/completions", headers, body)


def one_run(protocol: str, source: str, level: int, seconds: float) -> tuple[float, float, float]:
    """(server CPU µs per request, req/s, p50 ms) of one fresh server."""
    process, port = start(protocol, source)
    try:
        loadgen.run_wrk(target(port), level, 1)  # warm-up: imports, caches
        before = procstat.cpu_seconds([process.pid])
        run = loadgen.run_wrk(target(port), level, seconds)
        after = procstat.cpu_seconds([process.pid])
        if run.errors:
            raise RuntimeError(f"{protocol}: errors {run.errors}")
        return (after - before) / run.requests * 1e6, run.rps, run.p50_ms
    finally:
        process.terminate()
        process.wait(30)


def own(protocol: str, source: str, batches: int, size: int) -> float:
    """The least thread CPU per request (µs) over `batches` of `size` requests fed to the protocol."""
    env = dict(os.environ, PYTHONPATH=source or str(ROOT / "server"))
    code = script(OWN)
    out = subprocess.run(
        [sys.executable, "-c", code, protocol, source, str(batches), str(size)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{protocol}: {out.stderr.strip()[-2000:]}")
    return float(out.stdout.split("OWN ")[1])


def gateways(
    system: str, source: str, baseline: str, levels: list[int], rounds: int, seconds: float, together: bool
) -> None:
    """bench_compare's `system` from two sources, loaded in turn or together (see the docstring)."""
    import tempfile
    from contextlib import ExitStack

    from bench_compare import serve_help
    from compare import systems

    sources = {"new": Path(source or ROOT / "server").resolve(), "base": Path(baseline).resolve()}
    with tempfile.TemporaryDirectory(prefix="tfy-bench-uvicorn-") as work, ExitStack() as stack:
        contexts = {
            label: systems.Context(
                repo=ROOT,
                workdir=Path(work) / label,
                python=sys.executable,
                upstream="",
                workers=1,
                litellm_venv=Path(work),
                serve_help=serve_help(sys.executable, path),
                gateway_source=path,
            )
            for label, path in sources.items()
        }
        for ctx in contexts.values():
            ctx.workdir.mkdir(parents=True, exist_ok=True)
        upstream_port = free_port()
        stack.enter_context(systems.upstream(contexts["new"], upstream_port, 16, 1.0))
        servers = {}
        for label, ctx in contexts.items():
            ctx.upstream = f"http://127.0.0.1:{upstream_port}"
            servers[label] = stack.enter_context(systems.starter(system, 1)(ctx))
        for level in levels:
            cpu: dict[str, list[float]] = {label: [] for label in servers}
            p50: dict[str, list[float]] = {label: [] for label in servers}
            for round_ in range(rounds):
                measured = measure_together(servers) if together else measure_apart(servers, round_)
                for label, (cpu_us, p50_ms) in measured(level, seconds).items():
                    cpu[label].append(cpu_us)
                    p50[label].append(p50_ms)
            deltas = sorted(n - b for n, b in zip(cpu["new"], cpu["base"], strict=True))
            for label in servers:
                values = sorted(cpu[label])
                print(
                    f"{system} c={level:<3} {label:5} CPU µs/req median {statistics.median(values):6.1f} "
                    f"[{values[0]:.1f}-{values[-1]:.1f}]  p50 {statistics.median(p50[label]):.3f} ms",
                    flush=True,
                )
            print(
                f"{system} c={level:<3} new-base per round: median {statistics.median(deltas):+.1f} µs "
                f"[{deltas[0]:+.1f}..{deltas[-1]:+.1f}]  load {os.getloadavg()[0]:.2f}",
                flush=True,
            )


Measure = Callable[[int, float], dict[str, tuple[float, float]]]


def one_wrk(server: Any, level: int, seconds: float) -> tuple[float, float]:
    """(server CPU µs per request, p50 ms) of one wrk run against `server`."""
    before = procstat.cpu_seconds(procstat.tree(server.pid))
    run = loadgen.run_wrk(server.target, level, seconds)
    after = procstat.cpu_seconds(procstat.tree(server.pid))
    return (after - before) / max(1, run.requests) * 1e6, run.p50_ms


def measure_apart(servers: dict[str, Any], round_: int) -> Measure:
    """One server after the other, the order reversed every other round."""

    def measure(level: int, seconds: float) -> dict[str, tuple[float, float]]:
        labels = list(servers) if round_ % 2 == 0 else list(servers)[::-1]
        return {label: one_wrk(servers[label], level, seconds) for label in labels}

    return measure


def measure_together(servers: dict[str, Any]) -> Measure:
    """Both servers loaded at once, each by its own wrk: whatever else the machine runs meanwhile
    weighs on both alike (a busy machine's state moves within seconds)."""
    from concurrent.futures import ThreadPoolExecutor

    def measure(level: int, seconds: float) -> dict[str, tuple[float, float]]:
        with ThreadPoolExecutor(len(servers)) as pool:
            runs = {label: pool.submit(one_wrk, server, level, seconds) for label, server in servers.items()}
            return {label: run.result() for label, run in runs.items()}

    return measure


def gateway_own(system: str, sources: list[tuple[str, str]], rounds: int, batches: int, size: int) -> None:
    """The gateway's own CPU per request through each protocol, the upstream replayed from memory."""
    import json
    import tempfile

    from bench_inprocess import NOMATCH_METADATA, prepare
    from compare import manifests

    code = script(GATEWAY_OWN)
    with tempfile.TemporaryDirectory(prefix="tfy-bench-uvicorn-") as scratch:
        port = free_port()
        upstream = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "raw_upstream.py"), "--port", str(port)])
        try:
            specs = {}
            for name, source in sources:
                path = Path(source or ROOT / "server").resolve()
                spec = prepare(system, Path(scratch) / name.replace("@", "-"), f"http://127.0.0.1:{port}", path)
                spec["model"] = manifests.ROUTED_MODEL if system == "gateway-all" else "bench/gpt-4o"
                spec["metadata"] = {"gateway-all": manifests.METADATA, "gateway-nomatch": NOMATCH_METADATA}.get(
                    system, ""
                )
                specs[name] = (str(path), spec)
            results: dict[str, list[float]] = {name: [] for name, _ in sources}
            for round_ in range(rounds):
                for name, _ in sources if round_ % 2 == 0 else sources[::-1]:
                    path, spec = specs[name]
                    command = [sys.executable, "-c", code, name.split("@")[0], path, str(batches), str(size)]
                    out = subprocess.run([*command, json.dumps(spec)], capture_output=True, text=True, check=False)
                    if out.returncode != 0:
                        raise RuntimeError(f"{name}: {out.stderr.strip()[-2000:]}")
                    results[name].append(float(out.stdout.split("OWN ")[1]))
        finally:
            upstream.terminate()
            upstream.wait(30)
    for name, values in results.items():
        print(f"{system} own {name:12} µs/req least of batches, per round: {' '.join(f'{v:.2f}' for v in values)}")


def profile(protocol: str, source: str, seconds: float) -> None:
    import signal

    process, port = start(protocol, source, profile=True)
    try:
        loadgen.run_wrk(target(port), 1, 1)
        process.send_signal(signal.SIGUSR1)
        run = loadgen.run_wrk(target(port), 1, seconds)
        print(f"{run.requests} requests profiled", flush=True)
        process.send_signal(signal.SIGUSR2)
    finally:
        process.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocols", default="uvicorn,serve", help="uvicorn (stock httptools), serve")
    parser.add_argument("--gateway-source", default="", help="the server/ dir whose serve protocol to run")
    parser.add_argument("--baseline-source", default="", help="adds 'serve@base': serve's protocol of this server/ dir")
    parser.add_argument("--levels", default="1,32")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--own", action="store_true", help="no sockets: requests fed to the protocol in process")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--gateway-own", default="", help="bench_inprocess's system through each protocol, in process")
    parser.add_argument("--together", action="store_true", help="--gateway: load both servers at once")
    parser.add_argument("--gateway", default="", help="bench_compare's system from two sources (--baseline-source)")
    parser.add_argument("--profile", default="", help="a cProfile table of this protocol's server at c=1")
    args = parser.parse_args()
    if args.gateway_own:
        print(f"load before: {os.getloadavg()}", flush=True)
        own_sources = [(name, args.gateway_source) for name in args.protocols.split(",")]
        if args.baseline_source:
            own_sources.append(("serve@base", args.baseline_source))
        gateway_own(args.gateway_own, own_sources, args.rounds, args.batches, args.batch_size)
        print(f"load after: {os.getloadavg()}", flush=True)
        return 0
    if args.gateway:
        print(f"load before: {os.getloadavg()}", flush=True)
        levels = [int(x) for x in args.levels.split(",")]
        gateways(
            args.gateway, args.gateway_source, args.baseline_source, levels, args.rounds, args.seconds, args.together
        )
        print(f"load after: {os.getloadavg()}", flush=True)
        return 0
    if args.profile:
        profile(args.profile, args.gateway_source, args.seconds)
        return 0
    systems = [(name, args.gateway_source) for name in args.protocols.split(",")]
    if args.baseline_source:
        systems.append(("serve@base", args.baseline_source))
    print(f"load before: {os.getloadavg()}", flush=True)
    if args.own:
        owned: dict[str, list[float]] = {name: [] for name, _ in systems}
        for round_ in range(args.rounds):
            for name, source in systems if round_ % 2 == 0 else systems[::-1]:
                owned[name].append(own(name.split("@")[0], source, args.batches, args.batch_size))
        for name, values in owned.items():
            print(f"own {name:12} µs/req least of batches, per round: {' '.join(f'{v:.2f}' for v in values)}")
        print(f"load after: {os.getloadavg()}", flush=True)
        return 0
    for level in (int(x) for x in args.levels.split(",")):
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in systems}
        for round_ in range(args.rounds):
            order = systems if round_ % 2 == 0 else systems[::-1]
            for name, source in order:
                results[name].append(one_run(name.split("@")[0], source, level, args.seconds))
        for name, runs in results.items():
            cpu = sorted(r[0] for r in runs)
            print(
                f"c={level:<3} {name:12} CPU µs/req median {statistics.median(cpu):6.1f} "
                f"[{cpu[0]:.1f}-{cpu[-1]:.1f}]  req/s {statistics.median(r[1] for r in runs):8.0f}  "
                f"p50 {statistics.median(r[2] for r in runs):.3f} ms",
                flush=True,
            )
    print(f"load after: {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
