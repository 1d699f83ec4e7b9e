"""What tracing costs the data plane: CPU per request with traces exported (100% sampling) and without.

The gateway's ASGI app is called in process by `--concurrency` loops of requests, its upstream
scripts/raw_upstream.py, as in scripts/bench_inprocess.py (whose runner this reuses: each run a fresh
process, CPU time of the whole process over the run, export thread included, after a warm-up). Runs:

- off: no export configured (the default; the OpenTelemetry SDK is not even imported);
- off+traceparent: no export, every request carries a client traceparent (passed on upstream, logged);
- on: traces exported over OTLP/HTTP (protobuf), every request sampled, to a collector in another
  process that accepts and discards (scripts/compare/otlp_receiver.py: its CPU is not counted; it
  counts the exports and their bytes, shown per request beside each "on" run).

`--system` picks the configuration: gateway-bare (one provider account: two spans a request) or
gateway-all (every example manifest and bench_compare's regex + PII input guardrail, as its
gateway-all: a server span, an upstream call's span and one span per guardrail, with every policy's
attributes). Rounds are interleaved. Figures, not assertions: compare them between commits on an
idle machine.

`--own` measures tracing's own work instead, steady under load from other processes (as
bench_inprocess.py --own): the upstream's first answer replayed from memory, one request at a time;
the event loop's CPU per request is the least over 60 batches of `--requests`/60, the export thread's
is its whole CPU over the run (every span it encoded and sent) per request; their sum is the figure
to compare commits with. `--baseline-source DIR` adds off and on runs of another checkout's server/ (e.g.
main's) to the same interleaved rounds, so a change is measured against its baseline under the same
load.

`--own --own-concurrency 32` drives the same own work 32 requests at a time (the loop's least and median
batch are shown); `--only 'on,baseline on'` keeps the named runs only, for more rounds of the pair a change
is about, and their difference is then printed per round.

`--replay` is steadier still, for a change to tracing itself on a busy machine: one gateway-all request's
trace calls are captured (what the pipeline hands to `Trace`: its reservation, attempt, answer, guardrail
runs, the request), then replayed on the loop thread with the spans kept in memory (the least CPU per
request over 60 batches), and the spans of 512 replayed requests are encoded as the export thread
would (the least of 30 encodings, per request). Neither the rest of the pipeline nor the cache misses
of a real server are in it: it ranks changes, bench_compare gives their size in a server.
`--replay --instructions` counts instead of timing (callgrind: thousands of instructions a request for
the trace calls and the encoding; the same on a busy machine; ~2 minutes a run under valgrind).

    python scripts/bench_tracing.py [--system gateway-all] [--requests 10000] [--concurrency 32] [--rounds 3]
        [--baseline-source DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_inprocess  # noqa: E402
from compare import manifests  # noqa: E402
from compare.processes import free_port, running  # noqa: E402

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
SYSTEMS = ("gateway-bare", "gateway-all")


def prepare(system: str, workdir: Path, upstream: str, source: Path) -> dict[str, Any]:
    """bench_inprocess's data dir for `system`; gateway-all also gets bench_compare's input guardrail
    (applied by one more `serve` on the same data dir), as bench_compare's gateway-all has it."""
    spec = bench_inprocess.prepare(system, workdir, upstream, source)
    if system != "gateway-all":
        return spec
    guardrails = manifests.input_guardrails()
    token = "tfy_bench_" + secrets.token_hex(16)
    env = {**spec["env"], "TFY_GATEWAY_ADMIN_TOKEN": token}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "tfy_gateway", "serve", "--data-dir", spec["data_dir"], "--port", str(port)]
    log = workdir / f"{system}-guardrails.log"
    with running([*command, "--log-level", "warning"], f"{base}/api/svc/v1/min-cli-version", log, env=env):
        manifests.apply_all(base, token, guardrails)
    return spec


def received(collector: str) -> tuple[int, int]:
    """(exports, bytes) the collector took so far."""
    counts = httpx.get(f"{collector}/counts", timeout=10).json().get("/v1/traces", {})
    return int(counts.get("exports", 0)), int(counts.get("bytes", 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=SYSTEMS, default="gateway-bare")
    parser.add_argument("--requests", type=int, default=10_000, help="requests per run (default 10000)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gateway-source", default=str(HERE.parent / "server"), help="the server/ dir to run")
    parser.add_argument("--baseline-source", help="another server/ dir: its off and on runs join the rounds")
    parser.add_argument("--own", action="store_true", help="tracing's own work: loop and export thread, c=1")
    parser.add_argument("--replay", action="store_true", help="a captured request's trace calls and encoding only")
    parser.add_argument(
        "--max-tokens",
        type=int,
        help="--own, --replay: send max_tokens, as bench_compare's body does (16): the call span's parameters",
    )
    parser.add_argument(
        "--own-concurrency",
        type=int,
        default=1,
        help="--own: requests in flight at once (e.g. 32: the loop's work at c=32, its least and median batch)",
    )
    parser.add_argument(
        "--only", help="comma-separated runs to keep (e.g. 'on,baseline on'): more rounds of the pair compared"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="--replay: count instructions (callgrind) instead of timing: thousands a request, load-independent",
    )
    parser.add_argument("--own-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.own_child:
        child = json.loads(args.own_child)
        work = replay_work if child.get("replay") else own_work
        print(json.dumps(asyncio.run(work(child, max(1, args.requests // OWN_BATCHES)))))
        return 0
    args.profile_child = False
    with tempfile.TemporaryDirectory(prefix="tfy-tracing-") as scratch:
        upstream_port, sink_port = free_port(), free_port()
        upstream_process = subprocess.Popen(
            [sys.executable, str(HERE / "raw_upstream.py"), "--port", str(upstream_port)]
        )
        collector = f"http://127.0.0.1:{sink_port}"
        receiver = [sys.executable, str(HERE / "compare" / "otlp_receiver.py"), "--port", str(sink_port)]
        try:
            with running(receiver, f"{collector}/counts", Path(scratch) / "otlp.log"):
                measure(args, Path(scratch), f"http://127.0.0.1:{upstream_port}", collector)
        finally:
            upstream_process.terminate()
            upstream_process.wait(timeout=15)
    return 0


OWN_BATCHES = 60
EXPORT_THREAD = "tfy-gateway-span-export"


async def own_work(spec: dict[str, Any], batch: int) -> dict[str, Any]:
    """One `--own` run in this process: the loop's least CPU per request over the batches, and the
    export thread's CPU over all of them per request (the spans flushed before it is read)."""
    os.environ.update(spec["env"])
    from tfy_gateway.gateway.app import create_app
    from tfy_gateway.gateway.providers.aiohttp_transport import AiohttpTransport
    from tfy_gateway.gateway.settings import GatewaySettings

    replay = bench_inprocess.Replay(AiohttpTransport())
    settings = GatewaySettings(data_dir=Path(spec["data_dir"]), admin_token=spec["token"], **spec.get("settings", {}))
    app: Any = create_app(settings, transport=replay, tune_gc=True)
    headers = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {spec['token']}".encode())]
    model = "bench/gpt-4o"
    if spec["system"] == "gateway-all":
        headers.append((b"x-tfy-metadata", manifests.METADATA.encode()))
        model = manifests.ROUTED_MODEL
    headers += [(name.encode(), value.encode()) for name, value in spec.get("headers", {}).items()]
    body = request_body(spec, model)
    path = "/api/llm/chat/completions"
    spent: list[float] = []
    try:
        async with app.router.lifespan_context(app):
            telemetry = app.state.data_plane.telemetry
            concurrency = spec.get("concurrency", 1)
            await bench_inprocess.drive(app, path, headers, body, 500, concurrency)
            await asyncio.to_thread(telemetry.flush)
            before = bench_inprocess.thread_cpu().get(EXPORT_THREAD, 0.0)
            for _ in range(OWN_BATCHES):
                started = time.thread_time()
                await bench_inprocess.drive(app, path, headers, body, batch, concurrency)
                spent.append((time.thread_time() - started) / batch * 1e6)
            await asyncio.to_thread(telemetry.flush)
            export = (bench_inprocess.thread_cpu().get(EXPORT_THREAD, 0.0) - before) / (OWN_BATCHES * batch) * 1e6
    finally:
        await replay.aclose()
    least, median = min(spent), statistics.median(spent)
    return {"loop": least, "loop_median": median, "export": export, "cpu_us_per_request": least + export}


REPLAY_SPANS = 512
COUNT_VARIABLE = "TFY_BENCH_TRACING_COUNT"
COUNTED_ENCODINGS = 3


def request_body(spec: dict[str, Any], model: str) -> bytes:
    """The chat request a run sends: bench_inprocess's, with `max_tokens` when the run asks for it."""
    body: dict[str, Any] = {"model": model, "messages": bench_inprocess.PROMPT}
    if spec.get("max_tokens"):
        body["max_tokens"] = spec["max_tokens"]
    return json.dumps(body).encode()


async def replay_work(spec: dict[str, Any], batch: int) -> dict[str, Any]:
    """One `--replay` run: capture a gateway-all request's calls into its trace, then time them replayed
    on this thread (spans queued to a list) and the encoding of what they queued."""
    os.environ.update(spec["env"])
    from tfy_gateway.gateway.app import create_app
    from tfy_gateway.gateway.observability import telemetry, tracing
    from tfy_gateway.gateway.providers.aiohttp_transport import AiohttpTransport
    from tfy_gateway.gateway.settings import GatewaySettings

    captured: dict[str, Any] = {}
    trace_class, telemetry_class = tracing.SpanTrace, telemetry.Telemetry
    originals = {name: getattr(trace_class, name) for name in ("reserve", "attempt", "guardrails", "finish")}
    begin, attempt_answered = telemetry_class.begin, tracing.AttemptSpan.answered

    def capturing_begin(self: Any, *args: Any) -> Any:
        captured["begin"] = (self, args)
        return begin(self, *args)

    async def reserve(self: Any, check: Any, request: Any) -> Any:
        captured["reservation"] = await originals["reserve"](self, check, request)
        return captured["reservation"]

    def attempt(self: Any, *args: Any) -> Any:
        captured["attempt"] = args
        return originals["attempt"](self, *args)

    def answered(self: Any, answer: Any) -> None:
        captured["answer"] = answer
        attempt_answered(self, answer)

    def guardrails(self: Any, checks: Any) -> None:
        captured["checks"] = list(checks)
        originals["guardrails"](self, captured["checks"])

    patched = {"reserve": reserve, "attempt": attempt, "guardrails": guardrails}
    for name, function in patched.items():
        setattr(trace_class, name, function)
    telemetry_class.begin = capturing_begin  # type: ignore[method-assign]
    tracing.AttemptSpan.answered = answered  # type: ignore[method-assign]
    replay = bench_inprocess.Replay(AiohttpTransport())
    settings = GatewaySettings(data_dir=Path(spec["data_dir"]), admin_token=spec["token"], **spec.get("settings", {}))
    app: Any = create_app(settings, transport=replay, tune_gc=True)
    headers = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {spec['token']}".encode())]
    if spec["system"] == "gateway-all":
        headers.append((b"x-tfy-metadata", manifests.METADATA.encode()))
    model = manifests.ROUTED_MODEL if spec["system"] == "gateway-all" else "bench/gpt-4o"
    body = request_body(spec, model)
    try:
        async with app.router.lifespan_context(app):
            await bench_inprocess.drive(app, "/api/llm/chat/completions", headers, body, 50, 1)
            for name, function in originals.items():
                setattr(trace_class, name, function)
            telemetry_class.begin = begin  # type: ignore[method-assign]
            tracing.AttemptSpan.answered = attempt_answered  # type: ignore[method-assign]
            result = replayed(captured, batch)
    finally:
        await replay.aclose()
    return result


def replayed(captured: dict[str, Any], batch: int) -> dict[str, Any]:
    """The captured request's trace calls replayed (loop µs per request) and their spans encoded."""
    owner, begin_args = captured["begin"]
    pipeline = owner._pipeline
    queue, spans = pipeline.queue, []
    reservation, (attempt, entry, request) = captured["reservation"], captured["attempt"]
    answer, checks = captured["answer"], captured["checks"]

    class Kept:
        def on_end_all(self, ended: Any) -> None:
            spans.extend(ended)

        def on_end_request(self, record: Any) -> None:  # every span of the request as one item
            spans.append(record)

    async def reserve(_request: Any) -> Any:
        return reservation

    def one() -> None:
        trace = owner.begin(*begin_args)
        coroutine = trace.reserve(reserve, request)
        with contextlib.suppress(StopIteration):  # the reservation is ready: one step finishes it
            coroutine.send(None)
        trace.attempt(attempt, entry, request).answered(answer)
        trace.guardrails(checks)
        trace.finish(request)

    pipeline.queue = Kept()
    try:
        for _ in range(1000):
            one()
        count = int(os.environ.get(COUNT_VARIABLE, "0"))
        if count:  # --instructions: callgrind reads what these two C calls cost, inclusive
            spans.clear()
            functools.reduce(lambda _, __: one(), range(count), None)
            encoder = queue._encoder
            functools.reduce(lambda _, __: encoder.encode(spans), range(COUNTED_ENCODINGS), None)
            return {"requests": count, "spans": len(spans)}
        spent = []
        for _ in range(OWN_BATCHES):
            spans.clear()
            started = time.thread_time()
            for _ in range(batch):
                one()
            spent.append((time.thread_time() - started) / batch * 1e6)
    finally:
        pipeline.queue = queue
    per_request = len(spans) / batch
    sample = spans[-REPLAY_SPANS:]
    encoder = queue._encoder
    encoder.encode(sample)
    encodings = []
    for _ in range(30):
        started = time.thread_time()
        encoder.encode(sample)
        encodings.append((time.thread_time() - started) / len(sample) * per_request * 1e6)
    return {"loop": min(spent), "export": min(encodings), "cpu_us_per_request": min(spent) + min(encodings)}


def run_own(spec: dict[str, Any], args: argparse.Namespace, source: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--own-child", json.dumps(spec), "--requests", str(args.requests),
               "--gateway-source", source]  # fmt: skip
    if args.instructions:
        return counted(command, args.requests)
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{spec['system']} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def counted(command: list[str], requests: int) -> dict[str, Any]:
    """`--replay --instructions`: the child under callgrind replays `requests` requests inside one
    `functools.reduce` call, then encodes their spans inside another; callgrind collects inside that
    function only and dumps its counts as each call begins: the last numbered dump holds the trace
    calls, the final one the encoding (per request, thousands of instructions), whatever the load."""
    with tempfile.TemporaryDirectory(prefix="tfy-tracing-cg-") as scratch:
        out = Path(scratch) / "callgrind.out"
        valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "-q", "--collect-atstart=no",
                    "--toggle-collect=functools_reduce", "--dump-before=functools_reduce"]  # fmt: skip
        env = {**os.environ, COUNT_VARIABLE: str(requests)}
        done = subprocess.run([*valgrind, *command], capture_output=True, text=True, timeout=3600, env=env)
        if done.returncode != 0:
            raise SystemExit(f"the counted replay failed:\n{done.stderr[-3000:]}")
        dumps = sorted(Path(scratch).glob("callgrind.out.*"), key=lambda path: int(path.suffix[1:]))
        loop, encoding = (_total(path) for path in (dumps[-1], out))
    return {
        "loop": loop / requests / 1000,
        "export": encoding / COUNTED_ENCODINGS / requests / 1000,
        "cpu_us_per_request": (loop + encoding / COUNTED_ENCODINGS) / requests / 1000,
    }


def _total(dump: Path) -> int:
    """A callgrind dump's instruction count."""
    text = dump.read_text()
    return int(next(line for line in text.splitlines() if line.startswith("totals:")).split()[1])


def measure(args: argparse.Namespace, scratch: Path, upstream: str, collector: str) -> None:
    """The interleaved rounds of every run, then their medians."""
    base = prepare(args.system, scratch, upstream, Path(args.gateway_source))
    base["max_tokens"] = args.max_tokens
    base["concurrency"] = args.own_concurrency
    on = {"otel_traces_endpoint": f"{collector}/v1/traces"}
    runs = {
        "off": (base, args.gateway_source),
        "off+traceparent": ({**base, "headers": {"traceparent": TRACEPARENT}}, args.gateway_source),
        "on": ({**base, "settings": on}, args.gateway_source),
    }
    if args.baseline_source:
        (scratch / "baseline").mkdir()
        baseline = prepare(args.system, scratch / "baseline", upstream, Path(args.baseline_source))
        baseline["max_tokens"] = args.max_tokens
        baseline["concurrency"] = args.own_concurrency
        runs["baseline off"] = (baseline, args.baseline_source)
        runs["baseline on"] = ({**baseline, "settings": on}, args.baseline_source)
    if args.only:
        runs = {name: run for name, run in runs.items() if name in args.only.split(",")}
    if args.replay:  # traced runs only, each spec marked for the replaying child
        runs = {name: ({**spec, "replay": True}, source) for name, (spec, source) in runs.items() if "on" in name}
        args.own = True
    figures: dict[str, list[float]] = {name: [] for name in runs}
    unit = "k instructions/req" if args.instructions else "µs own CPU/req"
    for round_ in range(args.rounds):
        for name, (spec, source) in runs.items():
            before = received(collector)
            if args.own:
                result = run_own(spec, args, source)
                parts = ("trace calls", "encoding") if args.replay else ("loop", "export thread")
                median = f", median batch {result['loop_median']:.1f}" if "loop_median" in result else ""
                own = f"  ({parts[0]} {result['loop']:.1f}{median}, {parts[1]} {result['export']:.1f})"
                print(f"round {round_ + 1} {name:16} {result['cpu_us_per_request']:7.1f} {unit}{own}", flush=True)
                figures[name].append(result["cpu_us_per_request"])
                continue
            # bench_inprocess's whole-request run: not its --own or --transport modes
            child_args = {**vars(args), "gateway_source": source, "own": False, "transport": False, "batches": 1}
            result = bench_inprocess.run_child(spec, argparse.Namespace(**child_args))
            exports, size = (after - first for after, first in zip(received(collector), before, strict=True))
            figures[name].append(result["cpu_us_per_request"])
            notes = ""
            if "spans_exported" in result:
                made = args.requests + min(2_000, args.requests)  # the warm-up's spans are exported too
                notes = (
                    f"  spans {result['spans_exported'] / made:.2f}/req (dropped {result['spans_dropped']}),"
                    f" {size / made:.0f} B/req in {exports} exports"
                )
            threads = result.get("thread_cpu_us_per_request", {})
            if len(threads) > 1:
                notes += "  (" + ", ".join(f"{thread} {spent:.1f}" for thread, spent in sorted(threads.items())) + ")"
            print(f"round {round_ + 1} {name:16} {result['cpu_us_per_request']:7.1f} µs CPU/req{notes}", flush=True)
    shape = f"concurrency {args.concurrency}"
    if args.own:
        shape = "replayed trace calls" if args.replay else f"own work, c={args.own_concurrency}"
    print(f"\n{args.system}, {shape}, {args.requests} requests per run, median [min-max] of {args.rounds}")
    for name, values in figures.items():
        reference = "baseline off" if name.startswith("baseline") else "off"
        if reference not in figures:  # --replay: traced runs only
            reference = "baseline on" if name != "baseline on" and "baseline on" in figures else name
        off = statistics.median(figures[reference])
        median = statistics.median(values)
        extra = f"  {median - off:+.1f} ({median / off - 1:+.0%}) vs {reference}" if name != reference else ""
        print(f"{name:16} {median:7.1f} [{min(values):.1f}-{max(values):.1f}] {unit}{extra}")
    if "on" in figures and "baseline on" in figures:  # paired within each round: steadier than the medians
        deltas = [mine - theirs for mine, theirs in zip(figures["on"], figures["baseline on"], strict=True)]
        shown = ", ".join(f"{delta:+.1f}" for delta in deltas)
        print(f"on - baseline on, per round: {shown}; median {statistics.median(deltas):+.1f} {unit}")
    print(json.dumps({name: values for name, values in figures.items()}))


if __name__ == "__main__":
    raise SystemExit(main())
