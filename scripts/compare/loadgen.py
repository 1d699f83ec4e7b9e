"""Load: wrk (closed loop, C, a Lua script for the POST body and per-status counts) or, without wrk,
an aiohttp closed loop; streams, and the fixed-rate soak, always through aiohttp (wrk cannot see a
first token).

Every run returns a `Run`: completed 200s per second, latency percentiles of every response, every
non-200 status and socket error counted, and the load generator's own CPU time (so a reader can see
it was not the bottleneck: compare its CPU per request with the servers').
"""

from __future__ import annotations

import asyncio
import json
import resource
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

WRK_TIMEOUT = "30s"  # wrk's default (2 s) would count slow answers at c=256 as errors and drop their latency

LUA = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
%(headers)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body)
  if status ~= 200 then statuses[status] = (statuses[status] or 0) + 1 end
end
function done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do counts[tostring(k)] = (counts[tostring(k)] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(counts) do table.insert(parts, string.format('"%%s":%%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,' ..
    '"connect":%%d,"read":%%d,"write":%%d,"timeout":%%d,"statuses":{%%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
"""


@dataclass
class Target:
    """What to load: a URL, its headers, and the JSON body (without `stream`)."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Run:
    requests: int = 0  # responses of any status
    ok: int = 0  # 200s
    seconds: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)  # status or socket error -> count
    loadgen_cpu_s: float = 0.0
    ttft_p50_ms: float | None = None  # streams only
    ttft_p90_ms: float | None = None
    ttft_p99_ms: float | None = None

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rps": self.rps, "error_count": self.error_count}


def wrk_available() -> str | None:
    return shutil.which("wrk")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def run_wrk(target: Target, concurrency: int, seconds: float, threads: int = 1) -> Run:
    """A closed loop of `concurrency` connections for `seconds` with wrk; its CPU from getrusage()."""
    headers = "\n".join(f'wrk.headers["{k}"] = [==[{v}]==]' for k, v in target.headers.items())
    headers += '\nwrk.headers["Content-Type"] = "application/json"'
    script = LUA % {"body": json.dumps(target.body), "headers": headers}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = ["wrk", "-t", str(min(threads, concurrency)), "-c", str(concurrency)]
        command += ["-d", f"{max(1, round(seconds))}s", "--timeout", WRK_TIMEOUT, "-s", handle.name, target.url]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is the only child reaped meanwhile
        process = subprocess.run(command, capture_output=True, text=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = process.stdout + process.stderr
    finally:
        Path(handle.name).unlink()
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {process.returncode}): {out.strip()[-500:]}")
    data = json.loads(line.removeprefix("WRKJSON "))
    errors = {k: int(v) for k, v in data["statuses"].items()}
    errors.update({f"socket-{k}": int(data[k]) for k in ("connect", "read", "write", "timeout") if data[k]})
    requests = int(data["requests"])
    return Run(
        requests=requests,
        ok=requests - sum(int(v) for v in data["statuses"].values()),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
        loadgen_cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    )


@dataclass
class Samples:
    """A closed loop's raw observations, which slices of one system's run add up to (`add`) before
    they are summarised into a `Run`, so percentiles are taken over every slice's samples at once."""

    latencies: list[float] = field(default_factory=list)  # seconds, every 200
    ttfts: list[float] = field(default_factory=list)  # seconds, every 200 stream that sent a chunk
    errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    seconds: float = 0.0
    loadgen_cpu_s: float = 0.0

    def add(self, other: Samples) -> None:
        self.latencies += other.latencies
        self.ttfts += other.ttfts
        self.errors.update(other.errors)
        self.requests += other.requests
        self.seconds += other.seconds
        self.loadgen_cpu_s += other.loadgen_cpu_s

    def run(self, *, stream: bool) -> Run:
        latencies, ttfts = sorted(self.latencies), sorted(self.ttfts)
        run = Run(
            requests=self.requests,
            ok=len(latencies),
            seconds=self.seconds,
            p50_ms=percentile(latencies, 0.5) * 1000,
            p90_ms=percentile(latencies, 0.9) * 1000,
            p99_ms=percentile(latencies, 0.99) * 1000,
            errors=dict(self.errors),
            loadgen_cpu_s=self.loadgen_cpu_s,
        )
        if stream:
            run.ttft_p50_ms = percentile(ttfts, 0.5) * 1000
            run.ttft_p90_ms = percentile(ttfts, 0.9) * 1000
            run.ttft_p99_ms = percentile(ttfts, 0.99) * 1000
        return run


async def _one(session: aiohttp.ClientSession, target: Target, body: dict[str, Any], samples: Samples) -> None:
    """One request (a stream when `body` asks for one): its latency, first token and errors into `samples`."""
    stream = body.get("stream") is True
    started = time.perf_counter()
    try:
        async with session.post(target.url, json=body, headers=target.headers) as response:
            first: float | None = None
            if stream and response.status == 200:
                async for line in response.content:
                    if first is None and line.startswith(b"data: {"):
                        first = time.perf_counter() - started
            else:
                await response.read()
            samples.requests += 1
            if response.status != 200:
                samples.errors[str(response.status)] += 1
                return
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        samples.errors[f"socket-{type(exc).__name__}"] += 1
        return
    samples.latencies.append(time.perf_counter() - started)
    if first is not None:
        samples.ttfts.append(first)


def _session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))


async def _closed_loop(target: Target, concurrency: int, seconds: float, stream: bool) -> Samples:
    body = {**target.body, "stream": True} if stream else target.body
    async with _session() as session:
        for _ in range(min(concurrency, 8)):  # open a few connections before the clock starts
            await _one(session, target, body, Samples())
        samples = Samples()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                await _one(session, target, body, samples)

        cpu, began = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        samples.seconds, samples.loadgen_cpu_s = time.perf_counter() - began, time.process_time() - cpu
    return samples


async def _alternating(targets: list[Target], seconds: float) -> list[Samples]:
    body_of = [{**target.body, "stream": True} for target in targets]
    samples = [Samples() for _ in targets]
    sessions = [_session() for _ in targets]
    try:
        for index, target in enumerate(targets):  # a kept-alive connection each before the clock starts
            await _one(sessions[index], target, body_of[index], Samples())
        deadline = time.perf_counter() + seconds * len(targets)
        cycle = 0
        while time.perf_counter() < deadline:
            order = range(len(targets)) if cycle % 2 == 0 else range(len(targets) - 1, -1, -1)
            for index in order:
                cpu, began = time.process_time(), time.perf_counter()
                await _one(sessions[index], targets[index], body_of[index], samples[index])
                samples[index].seconds += time.perf_counter() - began
                samples[index].loadgen_cpu_s += time.process_time() - cpu
            cycle += 1
    finally:
        for session in sessions:
            await session.close()
    return samples


def alternating_streams(targets: list[Target], seconds: float) -> list[Samples]:
    """Streams one at a time, to each target in turn (A B C, C B A, ...), for about `seconds` per target:
    every system's first tokens are timed under the same conditions, ~20 ms apart, whatever the rest
    of the machine does meanwhile. Each target's `seconds` is the time its own streams took."""
    return asyncio.run(_alternating(targets, seconds))


def run_python(target: Target, concurrency: int, seconds: float, *, stream: bool = False) -> Run:
    """The aiohttp closed loop: the fallback without wrk, and the only way to time a first token."""
    return sample_python(target, concurrency, seconds, stream=stream).run(stream=stream)


def sample_python(target: Target, concurrency: int, seconds: float, *, stream: bool = False) -> Samples:
    """`run_python`'s raw samples, for a run measured in slices."""
    return asyncio.run(_closed_loop(target, concurrency, seconds, stream))


async def _fixed_rate(target: Target, rate: float, seconds: float, max_in_flight: int) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    ok = skipped = 0
    in_flight: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> None:
            nonlocal ok
            try:
                async with session.post(target.url, json=target.body, headers=target.headers) as response:
                    await response.read()
                    if response.status == 200:
                        ok += 1
                    else:
                        errors[str(response.status)] += 1
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                errors[f"socket-{type(exc).__name__}"] += 1

        began = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(in_flight) >= max_in_flight:
                skipped += 1  # the server fell behind: counted, not queued without bound
                continue
            task = asyncio.create_task(one())
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.gather(*in_flight)
    return {"ok": ok, "errors": dict(errors), "skipped": skipped, "seconds": time.perf_counter() - began}


def run_fixed_rate(target: Target, rate: float, seconds: float, max_in_flight: int = 256) -> dict[str, Any]:
    """Open-loop load at `rate` requests/s for `seconds` (the RSS soak)."""
    return asyncio.run(_fixed_rate(target, rate, seconds, max_in_flight))
