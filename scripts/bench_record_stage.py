"""The observe stage's metrics alone, counted in instructions: a real gateway-all request recorded again.

A gateway with every example manifest and bench_compare's regex + PII input guardrail (bench_tracing's
gateway-all) and GenAI metrics exported over OTLP (`otel_metrics_endpoint`; no collector is needed: the
export runs once a minute, after the run) answers a few requests in process; the last one's context is
kept and `recording.record` is replayed on it, under callgrind, in three parts:

- `record`: the whole stage without OTLP metrics (the request's Prometheus series, its guardrail checks'
  series, its log row built and handed to a writer that drops it);
- `record+otlp`: the same with the OTLP sink, as the pipeline calls it when metrics are exported;
- `otlp`: their difference, what the OTLP metrics' records cost a request.

Each part runs `--requests` times inside one `functools.reduce` call; callgrind collects inside that
function only and dumps as each call begins, so the figures (thousands of instructions a request) do not
move with the machine's load. Sources alternate, so a before/after pair is counted side by side.

    python scripts/bench_record_stage.py [--sources server,../wt-old/server] [--rounds 2] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if "--child-source" in sys.argv[:-1]:
    sys.path.insert(0, sys.argv[sys.argv.index("--child-source") + 1])

PARTS = ("record", "record+otlp")


class Dropped:
    """The log writer's part the stage uses, keeping nothing: the row is built, then dropped."""

    def __init__(self, logs: Any) -> None:
        self.texts = logs.texts
        self.caller_texts = logs.caller_texts

    def submit_row(self, row: Any) -> None:
        pass


async def stage(spec: dict[str, Any], requests: int) -> dict[str, int]:
    os.environ.update(spec["env"])
    import bench_inprocess

    from tfy_gateway.gateway.app import create_app
    from tfy_gateway.gateway.data_plane import pipeline, recording
    from tfy_gateway.gateway.settings import GatewaySettings

    captured: list[Any] = []
    record = recording.record

    def capturing(request: Any, metrics: Any, logs: Any, telemetry: Any = None) -> None:
        captured[:] = [request, metrics, logs, telemetry]
        record(request, metrics, logs, telemetry)

    pipeline.record = capturing  # type: ignore[assignment]
    settings = GatewaySettings(
        data_dir=Path(spec["data_dir"]), admin_token=spec["token"], otel_metrics_endpoint=spec["metrics_url"]
    )
    app: Any = create_app(settings, tune_gc=True)
    headers, body = bench_inprocess.chat_request("gateway-all", spec["token"])
    async with app.router.lifespan_context(app):
        await bench_inprocess.drive(app, "/api/llm/chat/completions", headers, body, 200, 1)
        pipeline.record = record  # type: ignore[assignment]
        request, metrics, logs, telemetry = captured
        assert request.status == 200 and request.guardrails is not None and request.usage is not None
        assert telemetry.metrics_sink(request.config.telemetry) is not None, "OTLP metrics are not on"
        dropped = Dropped(logs)
        parts = {
            "record": lambda _, __: record(request, metrics, dropped),  # type: ignore[arg-type]
            "record+otlp": lambda _, __: record(request, metrics, dropped, telemetry),  # type: ignore[arg-type]
        }
        for part in parts.values():  # warm: every shape and series found once
            part(None, None)
        sink = telemetry.metrics_sink(request.config.telemetry)
        for name in PARTS:  # each inside one reduce call: what callgrind collects and dumps
            sink.collect()  # uncounted; what the part records is folded within it (`--requests`: 1024s)
            functools.reduce(parts[name], range(requests), None)
    return {"requests": requests}


def counted(command: list[str], requests: int, keep: str | None = None) -> dict[str, float]:
    """The child under callgrind: one dump per part, in order (each dumped as the next reduce begins,
    the last at exit). Thousands of instructions a request. `keep`: a directory the dumps are copied to
    (for `callgrind_annotate --inclusive=yes`)."""
    with tempfile.TemporaryDirectory(prefix="tfy-record-cg-") as scratch:
        out = Path(scratch) / "callgrind.out"
        valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "-q", "--collect-atstart=no",
                    "--toggle-collect=functools_reduce", "--dump-before=functools_reduce"]  # fmt: skip
        done = subprocess.run([*valgrind, *command], capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise SystemExit(f"the counted replay failed:\n{done.stderr[-3000:]}")
        dumps = sorted(Path(scratch).glob("callgrind.out.*"), key=lambda path: int(path.suffix[1:]))
        totals = [_total(path) for path in [*dumps, out]]
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            for name, path in zip(PARTS, [*dumps, out][-len(PARTS) :], strict=True):
                shutil.copy(path, Path(keep) / f"{name}.{os.getpid()}.callgrind")
    # The first dump is everything before the first reduce (nothing collected); one per part follows.
    per_part = totals[-len(PARTS) :]
    figures = {name: total / requests / 1000 for name, total in zip(PARTS, per_part, strict=True)}
    figures["otlp"] = figures["record+otlp"] - figures["record"]
    return figures


def _total(dump: Path) -> int:
    text = dump.read_text()
    return int(next(line for line in text.splitlines() if line.startswith("totals:")).split()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", default=str(HERE.parent / "server"), help="comma-separated server/ dirs")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=2048)
    parser.add_argument("--keep", help="copy each part's callgrind dump into this directory")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(stage(json.loads(args.child), args.requests))))
        return 0
    import bench_tracing
    from compare.processes import free_port, raw_upstream

    sources = [str(Path(s).resolve()) for s in args.sources.split(",") if s]
    results: dict[str, list[dict[str, float]]] = {source: [] for source in sources}
    with tempfile.TemporaryDirectory(prefix="tfy-record-stage-") as scratch, raw_upstream() as url:
        specs = {}
        for i, source in enumerate(sources):
            spec = bench_tracing.prepare("gateway-all", Path(scratch) / str(i), url, Path(source))
            specs[source] = {**spec, "metrics_url": f"http://127.0.0.1:{free_port()}/v1/metrics"}
        for round_ in range(args.rounds):
            for source in sources:
                command = [sys.executable, __file__, "--child", json.dumps(specs[source]), "--child-source",
                           source, "--requests", str(args.requests)]  # fmt: skip
                figures = counted(command, args.requests, args.keep)
                results[source].append(figures)
                load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
                shown = ", ".join(f"{name} {value:.1f}k" for name, value in figures.items())
                print(f"round {round_ + 1} {source}: {shown} (load {load})", flush=True)
    print(f"\ninstructions a request (thousands), {args.requests} replays, per round")
    for source, runs in results.items():
        for name in (*PARTS, "otlp"):
            print(f"{source} {name}: " + " / ".join(f"{run[name]:.1f}" for run in runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
