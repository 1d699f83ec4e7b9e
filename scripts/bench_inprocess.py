"""The gateway's own CPU per request, without an HTTP server in front of it.

Each system's ASGI app is called directly, in one process, by `--concurrency` loops of requests; its
upstream is scripts/raw_upstream.py over real aiohttp, as in the side-by-side bench
(scripts/bench_compare.py). With uvicorn's share and the load generator out of the figure, a change
to the data plane's hot path shows at a fraction of the side-by-side bench's noise. Systems:

- floor: scripts/minimal_proxy.py's Starlette app (forwarding only);
- gateway-bare: one provider account on the upstream;
- gateway-all: every examples/*.yaml applied, limits raised so nothing is refused (as bench_compare);
- gateway-nomatch: the same policies, every rate-limit and budget rule scoped to a model the request does
  not use, and a request (`bench/gpt-4o`, other metadata) that no routing, limit or budget rule matches:
  the cost of policies being configured. A run whose answer names an applied configuration stops.

Rounds are interleaved and each run is a fresh process (the figure is the process's CPU time over the
run / requests, after a warm-up; when other threads than the event loop's worked, each thread's share
is shown beside it, e.g. the request-log writer's SQLite inserts in an AnyIO worker thread).
Each gateway run also reports its request-log writer: records
still queued when the last request was answered (a writer that falls behind shows here first) and
written in all once the app has shut down (warm-up included).
`--profile SYSTEM` adds a cProfile table of one more run of that system. `--own` measures the gateways'
own work instead: the upstream's first answer replayed from memory, one request at a time, the least
thread CPU per request over `--batches` batches (default 60) of `--requests`/`--batches` (steady on a loaded
machine; the aiohttp client and the upstream's share are out of it). With other benches on the machine
(load 3-4 on 2 cores), 60 batches of 250 moved by up to 30 µs run to run; `--requests 20000 --batches 1000`
(batches of 20) finds quiet moments and held gateway-bare within 1-2 µs. `--transport` measures one
upstream call alone, the same way (least thread CPU over batches, c=1, a real socket to the upstream): the
floor's `session.post` + `read` against the gateway's `AiohttpTransport.post` of the request its bare
path sends (floor / gateway-bare; the gateway systems all use the same transport). Figures, not assertions.

    python scripts/bench_inprocess.py [--systems floor,gateway-bare,gateway-all,gateway-nomatch] [--requests 15000]
        [--concurrency 32] [--rounds 3] [--profile gateway-all] [--gateway-source ../wt-x/server]
        [--own [--batches 60]] [--transport [--batches 60]]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import json
import os
import pstats
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if "--gateway-source" in sys.argv[:-1]:
    # The gateway to measure goes first on the path before anything imports tfy_gateway (compare.manifests
    # does): inserted later, as it was, every child ran this checkout's installed gateway instead.
    sys.path.insert(0, sys.argv[sys.argv.index("--gateway-source") + 1])

from compare import manifests  # noqa: E402
from compare.processes import free_port, raw_upstream, running  # noqa: E402

SYSTEMS = ("floor", "gateway-bare", "gateway-all", "gateway-nomatch")
PROMPT = [{"role": "user", "content": "benchmark"}]
App = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]


def prepare(system: str, workdir: Path, upstream: str, source: Path) -> dict[str, Any]:
    """A data dir with the system's manifests applied (by a `serve` process, stopped afterwards)."""
    if system == "floor":
        return {"system": system, "upstream": upstream}
    examples = manifests.load_examples(HERE.parent / "examples")
    applied = [manifests.bench_account(upstream)]
    if system == "gateway-all":
        applied = [manifests.benchmarkable(m, upstream) for m in examples]
    elif system == "gateway-nomatch":
        applied += [unmatched(manifests.benchmarkable(m, upstream)) for m in examples]
    token = "tfy_bench_" + secrets.token_hex(16)
    env: dict[str, str | None] = {
        "PYTHONPATH": str(source),
        **manifests.secret_environment(applied),
        "TFY_GATEWAY_ADMIN_TOKEN": token,
    }
    data_dir = workdir / system
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "tfy_gateway", "serve", "--data-dir", str(data_dir), "--port", str(port)]
    with running(
        [*command, "--log-level", "warning"], f"{base}/api/svc/v1/min-cli-version", workdir / f"{system}.log", env=env
    ):
        manifests.apply_all(base, token, applied)
    return {"system": system, "upstream": upstream, "data_dir": str(data_dir), "token": token, "env": env}


UNUSED_MODEL = "openai-main/gpt-4o"  # a model of the examples that gateway-nomatch's requests never name
NOMATCH_METADATA = '{"project_id": "other-7", "environment": "staging"}'


def unmatched(manifest: dict[str, Any]) -> dict[str, Any]:
    """`manifest` with every rate-limit and budget rule that would match any model scoped to UNUSED_MODEL."""
    if isinstance(manifest.get("rules"), list) and "limit_to" in str(manifest["rules"]):  # V1 limits
        for rule in manifest["rules"]:
            when = rule.setdefault("when", {}) or {}
            rule["when"] = {**when, "models": when.get("models") or [UNUSED_MODEL]}
    elif "limits" in manifest:  # V2 limits and budgets
        when = manifest.get("when") or {}
        manifest["when"] = {**when, "models": when.get("models") or {"in": [UNUSED_MODEL]}}
    return manifest


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process by name (/proc/self/task/*/stat: utime + stime), so a
    run shows what its background threads (the request-log writer's SQLite work runs without the GIL,
    invisible to a GIL profile) cost beside the event loop's."""
    tick = os.sysconf("SC_CLK_TCK")
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    spent: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        name = names.get(int(task.name)) or stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        spent[name] = spent.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return spent


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def kernel_share() -> tuple[float, int, int]:
    """System CPU seconds, voluntary context switches (the loop going idle) and minor page faults (memory
    the allocator gave back and took again) of this process: where a run's CPU per request goes that no
    Python profile shows."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_stime, usage.ru_nvcsw, usage.ru_minflt


def chat_request(system: str, token: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The ASGI headers and body of the chat request `system` is driven with (gateway-all's routed model
    and metadata; gateway-nomatch's metadata that no rule matches)."""
    headers = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {token}".encode())]
    if system in ("gateway-all", "gateway-nomatch"):
        metadata = manifests.METADATA if system == "gateway-all" else NOMATCH_METADATA
        headers.append((b"x-tfy-metadata", metadata.encode()))
    model = manifests.ROUTED_MODEL if system == "gateway-all" else "bench/gpt-4o"
    return headers, json.dumps({"model": model, "messages": PROMPT}).encode()


async def drive(
    app: App, path: str, headers: list[tuple[bytes, bytes]], body: bytes, requests: int, concurrency: int
) -> dict[bytes, bytes]:
    """`requests` calls of `app`, `concurrency` at a time; any status but 200 stops the run. Returns the
    headers of the last answer."""
    left = requests
    answered: dict[bytes, bytes] = {}

    async def one() -> None:
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        done = asyncio.Event()
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                answered.clear()
                answered.update(message.get("headers", []))
            elif not message.get("more_body"):
                done.set()

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip
        await app(scope, receive, send)
        if status != [200]:
            raise SystemExit(f"{path} answered {status}")

    async def loop() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one()

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return answered


async def measure(spec: dict[str, Any], requests: int, concurrency: int, profile: bool) -> dict[str, Any]:
    """One run of one system in this process: warm up, then CPU per request (and a profile)."""
    system = spec["system"]
    headers = [(b"content-type", b"application/json")]
    if system == "floor":
        import minimal_proxy

        app: Any = minimal_proxy.create_app(spec["upstream"])
        path, model = "/v1/chat/completions", "gpt-4o"
        headers.append((b"authorization", b"Bearer tfy_bench_floor"))
    else:
        os.environ.update(spec["env"])
        from tfy_gateway.gateway.app import create_app
        from tfy_gateway.gateway.settings import GatewaySettings

        # `settings`: more GatewaySettings fields (bench_tracing.py turns trace export on with them).
        settings = GatewaySettings(
            data_dir=Path(spec["data_dir"]), admin_token=spec["token"], **spec.get("settings", {})
        )
        app = create_app(settings, tune_gc=True)
        path = "/api/llm/chat/completions"
        headers.append((b"authorization", f"Bearer {spec['token']}".encode()))
        if system in ("gateway-all", "gateway-nomatch"):
            metadata = manifests.METADATA if system == "gateway-all" else NOMATCH_METADATA
            headers.append((b"x-tfy-metadata", metadata.encode()))
        headers += [(name.encode(), value.encode()) for name, value in spec.get("headers", {}).items()]
        model = manifests.ROUTED_MODEL if system == "gateway-all" else "bench/gpt-4o"
    body = json.dumps({"model": model, "messages": PROMPT}).encode()
    result: dict[str, Any] = {"system": system}
    async with app.router.lifespan_context(app):
        answered = await drive(app, path, headers, body, min(2_000, requests), concurrency)
        applied = answered.get(b"x-tfy-applied-configurations", b"{}")
        if system == "gateway-nomatch" and applied != b"{}":
            raise SystemExit(f"gateway-nomatch: a configuration applied to the request: {applied.decode()}")
        profiler = cProfile.Profile() if profile else None
        started_cpu, started, started_threads = cpu_seconds(), time.perf_counter(), thread_cpu()
        started_sys, started_switches, started_faults = kernel_share()
        if profiler is not None:
            profiler.enable()
        await drive(app, path, headers, body, requests, concurrency)
        if profiler is not None:
            profiler.disable()
        result["cpu_us_per_request"] = (cpu_seconds() - started_cpu) / requests * 1e6
        result["requests_per_s"] = requests / (time.perf_counter() - started)
        ended_sys, ended_switches, ended_faults = kernel_share()
        result["sys_us_per_request"] = (ended_sys - started_sys) / requests * 1e6
        result["switches_per_request"] = (ended_switches - started_switches) / requests
        result["faults_per_request"] = (ended_faults - started_faults) / requests
        ended_threads = thread_cpu()
        result["thread_cpu_us_per_request"] = {
            name: round((spent - started_threads.get(name, 0.0)) / requests * 1e6, 1)
            for name, spent in ended_threads.items()
            if spent > started_threads.get(name, 0.0)
        }
        logs = None
        if system != "floor":
            # The app keeps its DataPlane in its state; sources from before that kept it on the mount.
            plane = (
                getattr(app.state, "data_plane", None)
                or next(mount for prefix, mount in app._mounts if prefix.startswith("/api/llm")).plane
            )
            logs = plane.logs
            result["logs_queued"] = logs.pending  # the backlog when the last request was answered
    if logs is not None:  # shutdown has written the rest
        result["logs_written"], result["logs_dropped"] = logs.written, logs.dropped
        counts = getattr(getattr(plane, "telemetry", None), "counts", None)
        if counts is not None:  # spans made by the whole run, warm-up included, once shutdown flushed them
            result["spans_exported"], result["spans_dropped"] = counts.get("exported"), counts.dropped
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(40)
    return result


OWN_BATCHES = 60


class Replay:
    """A transport that makes the first upstream call for real and answers every later one with that
    answer, from memory: what is left of a request's CPU is the gateway's own work (`--own`)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.answer: Any = None

    async def post(self, request: Any) -> Any:
        if self.answer is None:
            self.answer = await self.real.post(request)
        return self.answer

    async def open_stream(self, request: Any) -> Any:
        return await self.real.open_stream(request)

    async def aclose(self) -> None:
        await self.real.aclose()


async def own_work(spec: dict[str, Any], batches: int, batch: int) -> dict[str, Any]:
    """A gateway's own CPU per request (upstream answered from memory, one request at a time): the
    least thread CPU time per request over `batches` batches of `batch` requests. The least is what
    the code costs when nothing else on the machine gets in its way, so it moves only with the code."""
    os.environ.update(spec["env"])
    from tfy_gateway.gateway.app import create_app
    from tfy_gateway.gateway.providers.aiohttp_transport import AiohttpTransport
    from tfy_gateway.gateway.settings import GatewaySettings

    system = spec["system"]
    settings = GatewaySettings(data_dir=Path(spec["data_dir"]), admin_token=spec["token"])
    replay: Replay | None = None
    if "transport" in inspect.signature(create_app).parameters:
        replay = Replay(AiohttpTransport())
        app: Any = create_app(settings, transport=replay, tune_gc=True)
    else:  # an older source (bisecting): its data plane builds an AiohttpTransport itself, so wrap that one
        from tfy_gateway.gateway.data_plane import runtime

        def replaying(*args: Any, **kwargs: Any) -> Replay:
            return Replay(AiohttpTransport(*args, **kwargs))

        runtime.AiohttpTransport = replaying
        app = create_app(settings, tune_gc=True)
    headers, body = chat_request(system, spec["token"])
    path = "/api/llm/chat/completions"
    spent: list[float] = []
    try:
        async with app.router.lifespan_context(app):
            await drive(app, path, headers, body, 500, 1)
            for _ in range(batches):
                started = time.thread_time()
                await drive(app, path, headers, body, batch, 1)
                spent.append((time.thread_time() - started) / batch * 1e6)
    finally:
        if replay is not None:  # an older source's data plane closed its own
            await replay.aclose()
    return {"system": system, "own_us_per_request": min(spent), "median_us_per_request": statistics.median(spent)}


async def transport_call(spec: dict[str, Any], batches: int, batch: int) -> dict[str, Any]:
    """One upstream call's CPU, without any app around it: the least thread CPU per call over `batches`
    batches of `batch` calls, one at a time (`--transport`). The floor posts as scripts/minimal_proxy.py
    does; a gateway sends what its bare path sends (the JSON headers, a bearer token, its default
    time limits) through a fresh `HttpRequest` per call, as its planner does."""
    import aiohttp

    url = spec["upstream"] + "/v1/chat/completions"
    body = json.dumps({"model": "gpt-4o", "messages": PROMPT}).encode()
    call: Callable[[], Awaitable[Any]]
    if spec["system"] == "floor":
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None)
        )
        floor_headers = {"authorization": "Bearer tfy_bench_floor", "content-type": "application/json"}

        async def call() -> None:
            answer = await session.post(url, data=body, headers=floor_headers)
            await answer.read()
            answer.release()

        close: Callable[[], Awaitable[None]] = session.close
    else:
        from tfy_gateway.gateway.providers.aiohttp_transport import AiohttpTransport
        from tfy_gateway.gateway.providers.timeouts import Timeouts
        from tfy_gateway.gateway.providers.transport import HttpRequest
        from tfy_gateway.gateway.providers.wire import JSON_HEADERS
        from tfy_gateway.gateway.settings import GatewaySettings

        transport = AiohttpTransport()
        headers = {**JSON_HEADERS, "authorization": "Bearer sk-bench"}
        limits = Timeouts.within(GatewaySettings.model_fields["upstream_timeout_s"].default)

        async def call() -> None:
            await transport.post(HttpRequest(url, headers, body, timeouts=limits))

        close = transport.aclose
    spent: list[float] = []
    try:
        for _ in range(500):
            await call()
        for _ in range(batches):
            started = time.thread_time()
            for _ in range(batch):
                await call()
            spent.append((time.thread_time() - started) / batch * 1e6)
    finally:
        await close()
    least, median = min(spent), statistics.median(spent)
    return {"system": spec["system"], "own_us_per_request": least, "median_us_per_request": median}


def child(args: argparse.Namespace) -> int:
    # --gateway-source went first on the path at import time (top of this file): tfy_gateway is its.
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    spec = json.loads(args.child)
    if args.transport:
        batch = max(1, args.requests // args.batches)
        print(json.dumps(asyncio.run(transport_call(spec, batches=args.batches, batch=batch))))
        return 0
    if args.own:
        batch = max(1, args.requests // args.batches)
        print(json.dumps(asyncio.run(own_work(spec, batches=args.batches, batch=batch))))
        return 0
    print(json.dumps(asyncio.run(measure(spec, args.requests, args.concurrency, args.profile_child))))
    return 0


def run_child(spec: dict[str, Any], args: argparse.Namespace, *, profile: bool = False) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", json.dumps(spec), "--requests", str(args.requests),
               "--concurrency", str(args.concurrency), "--gateway-source", args.gateway_source]  # fmt: skip
    if profile:
        command.append("--profile-child")
    if args.own:
        command += ["--own", "--batches", str(args.batches)]
    if args.transport:
        command += ["--transport", "--batches", str(args.batches)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{spec['system']} failed:\n{done.stderr[-3000:]}")
    if profile:
        print(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, from {', '.join(SYSTEMS)}")
    parser.add_argument("--requests", type=int, default=15_000, help="requests per run (default 15000)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", metavar="SYSTEM", help="print a cProfile table of one more run of SYSTEM")
    parser.add_argument("--gateway-source", default=str(HERE.parent / "server"), help="the server/ dir to run")
    parser.add_argument(
        "--own",
        action="store_true",
        help="gateways only, the upstream answered from memory: the least CPU per request over --batches "
        "batches of --requests/--batches (the gateway's own work, steady under load from other processes)",
    )
    parser.add_argument(
        "--batches",
        type=int,
        default=OWN_BATCHES,
        help=f"--own: batches per run (default {OWN_BATCHES}); more, smaller ones hold steadier on a busy machine",
    )
    parser.add_argument(
        "--transport",
        action="store_true",
        help="one upstream call alone, c=1: the floor's session.post against the gateway's AiohttpTransport.post "
        "(least CPU per call over --batches batches of --requests/--batches)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    systems = [name for name in args.systems.split(",") if name]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown systems {unknown}; choose from {', '.join(SYSTEMS)}")
    if args.own and args.transport:
        parser.error("--own and --transport measure different things: choose one")
    if args.own:
        systems = [name for name in systems if name != "floor"]  # the floor has no own work to isolate
    if args.transport:  # every gateway system calls upstream through the same transport
        systems = [name for name in systems if name in ("floor", "gateway-bare")]
    with tempfile.TemporaryDirectory(prefix="tfy-inprocess-") as scratch:
        workdir = Path(scratch)
        with raw_upstream() as url:
            specs = {
                name: {"system": name, "upstream": url}
                if args.transport
                else prepare(name, workdir, url, Path(args.gateway_source))
                for name in systems
            }
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in systems}
            for round_ in range(args.rounds):
                for name in systems:
                    runs[name].append(run_child(specs[name], args))
                    last = runs[name][-1]
                    if args.own or args.transport:
                        own, median = last["own_us_per_request"], last["median_us_per_request"]
                        what = "per upstream call" if args.transport else "own CPU/req"
                        print(f"round {round_ + 1} {name:15} {own:7.1f} µs {what} (median batch {median:.1f})")
                        continue
                    logs = ""
                    if "sys_us_per_request" in last:  # sources measured before this field have none
                        logs = f"  sys {last['sys_us_per_request']:.1f}, idle {last['switches_per_request']:.2f}"
                        logs += f", faults {last['faults_per_request']:.2f}/req"
                    if "logs_written" in last:
                        logs += f"  logs queued at the end {last['logs_queued']}, written {last['logs_written']}"
                    threads = last.get("thread_cpu_us_per_request", {})
                    if len(threads) > 1:
                        shares = ", ".join(f"{thread} {spent:.1f}" for thread, spent in sorted(threads.items()))
                        logs += f"  ({shares})"
                    print(
                        f"round {round_ + 1} {name:15} {last['cpu_us_per_request']:7.1f} µs CPU/req{logs}", flush=True
                    )
            if args.own or args.transport:
                what = "one upstream call alone" if args.transport else "own work, upstream answered from memory"
                print(f"\n{what}, c=1: median [min-max] of {args.rounds} runs")
                for name in systems:
                    figures = [r["own_us_per_request"] for r in runs[name]]
                    spread = f"[{min(figures):.1f}-{max(figures):.1f}]"
                    unit = "CPU/call" if args.transport else "own CPU/req"
                    print(f"{name:15} {statistics.median(figures):7.1f} {spread} µs {unit}")
                return 0
            print(
                f"\nconcurrency {args.concurrency}, {args.requests} requests per run, median [min-max] of {args.rounds}"
            )
            floor = statistics.median(r["cpu_us_per_request"] for r in runs["floor"]) if "floor" in runs else None
            for name in systems:
                figures = [r["cpu_us_per_request"] for r in runs[name]]
                ratio = f"  {statistics.median(figures) / floor:.2f}x the floor" if floor and name != "floor" else ""
                spread = f"[{min(figures):.1f}-{max(figures):.1f}]"
                print(f"{name:15} {statistics.median(figures):7.1f} {spread} µs CPU/req{ratio}")
            if args.profile:
                run_child(specs[args.profile], args, profile=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
