"""Streams measured in turn: at c=1 one stream to each system in turn (A B C, C B A, ...); at higher
concurrency every system's stream run of a round is cut into short slices taken in turn; either way
each system's samples are pooled into one row of the round.

Why: a stream at c=1 lasts ~20 ms, so a 3 s run holds ~150 first tokens, whose median is steady on
a quiet machine; but on a shared one the load moves over seconds, and one system's whole run could
fall into a busy stretch that the next system's missed (gateway-bare's TTFT p50 read 1.40 / 1.40 /
1.91 ms in three runs of one commit). Alternating stream by stream exposes every system to the same
stretches; percentiles are taken over the pooled samples.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from compare import loadgen, procstat, systems


@dataclass
class _Pooled:
    samples: loadgen.Samples = field(default_factory=loadgen.Samples)
    cpu_s: float = 0.0
    support_s: float = 0.0
    rss_peak_mb: float = 0.0
    rss_end_mb: float = 0.0
    failure: str | None = None


def _slice(server: systems.Running, concurrency: int, seconds: float, pooled: _Pooled) -> None:
    pids = procstat.tree(server.pid)
    cpu = procstat.cpu_seconds(pids)
    support = procstat.cpu_seconds(server.support_pids)
    with procstat.RssSampler(server.pid) as sampler:
        try:
            samples = loadgen.sample_python(server.target, concurrency, seconds, stream=True)
        except (RuntimeError, OSError) as exc:
            pooled.failure = str(exc)[:500]
            return
    pooled.cpu_s += procstat.cpu_seconds(procstat.tree(server.pid) or pids) - cpu
    pooled.support_s += procstat.cpu_seconds(server.support_pids) - support
    pooled.samples.add(samples)
    pooled.rss_peak_mb = max(pooled.rss_peak_mb, sampler.peak)
    pooled.rss_end_mb = sampler.samples[-1][1] if sampler.samples else pooled.rss_end_mb


def _row(name: str, server: systems.Running, concurrency: int, slices: int, pooled: _Pooled) -> dict[str, Any]:
    row: dict[str, Any] = {"system": name, "concurrency": concurrency, "failure": pooled.failure, "slices": slices}
    if pooled.failure is not None:
        return {**row, "errors": {}, "requests": 0}
    run = pooled.samples.run(stream=True)
    per = max(run.ok, 1)
    row.update(run.as_dict())
    row["cpu_us_per_request"] = pooled.cpu_s / per * 1e6
    row["support_cpu_us_per_request"] = pooled.support_s / per * 1e6 if server.support_pids else None
    row["loadgen_cpu_us_per_request"] = run.loadgen_cpu_s / per * 1e6
    row["rss_peak_mb"] = pooled.rss_peak_mb
    row["rss_end_mb"] = pooled.rss_end_mb
    return row


def _one_at_a_time(in_turn: list[tuple[str, systems.Running]], seconds: float) -> dict[str, _Pooled]:
    pooled = {name: _Pooled() for name, _ in in_turn}
    pids = {name: procstat.tree(server.pid) for name, server in in_turn}
    cpu = {name: procstat.cpu_seconds(pids[name]) for name, _ in in_turn}
    support = {name: procstat.cpu_seconds(server.support_pids) for name, server in in_turn}
    with ExitStack() as stack:
        samplers = {name: stack.enter_context(procstat.RssSampler(server.pid)) for name, server in in_turn}
        try:
            runs = loadgen.alternating_streams([server.target for _, server in in_turn], seconds)
        except (RuntimeError, OSError) as exc:
            for entry in pooled.values():
                entry.failure = str(exc)[:500]
            return pooled
    for (name, server), samples in zip(in_turn, runs, strict=True):
        entry = pooled[name]
        entry.samples = samples
        entry.cpu_s = procstat.cpu_seconds(procstat.tree(server.pid) or pids[name]) - cpu[name]
        entry.support_s = procstat.cpu_seconds(server.support_pids) - support[name]
        entry.rss_peak_mb = samplers[name].peak
        entry.rss_end_mb = samplers[name].samples[-1][1] if samplers[name].samples else 0.0
    return pooled


def measure_streams(
    in_turn: list[tuple[str, systems.Running]], concurrency: int, seconds: float, slices: int
) -> list[dict[str, Any]]:
    """One round of streams at `concurrency`, about `seconds` per system: at c=1 stream by stream in
    turn (`slices` is then 0 in the rows), else in `slices` alternating slices; a row per system (the
    fields of bench_compare's `measure`, plus `slices`). A failed slice fails that system's row and
    its remaining slices are skipped."""
    if concurrency == 1:
        alternated = _one_at_a_time(in_turn, seconds)
        return [_row(name, server, concurrency, 0, alternated[name]) for name, server in in_turn]
    pooled = {name: _Pooled() for name, _ in in_turn}
    each = seconds / slices
    for index in range(slices):
        for name, server in in_turn if index % 2 == 0 else in_turn[::-1]:
            if pooled[name].failure is None:
                _slice(server, concurrency, each, pooled[name])
    return [_row(name, server, concurrency, slices, pooled[name]) for name, server in in_turn]
