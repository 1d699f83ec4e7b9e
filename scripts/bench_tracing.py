"""What tracing costs the data plane: CPU per request with traces exported (100% sampling) and without.

The gateway's ASGI app is called in process by `--concurrency` loops of requests, its upstream
scripts/raw_upstream.py, as in scripts/bench_inprocess.py (whose runner this reuses: each run a fresh
process, CPU time of the whole process over the run, export thread included, after a warm-up). Runs:

- off: no export configured (the default; the OpenTelemetry SDK is not even imported);
- off+traceparent: no export, every request carries a client traceparent (passed on upstream, logged);
- on: traces exported over OTLP/HTTP (protobuf), every request sampled, to a collector in another
  process that accepts and discards (so its CPU is not counted).

Rounds are interleaved. Figures, not assertions: compare them between commits on an idle machine.
`--baseline-source DIR` adds off and on runs of another checkout's server/ (e.g. main's) to the same
interleaved rounds, so a change is measured against its baseline under the same load.

    python scripts/bench_tracing.py [--requests 10000] [--concurrency 32] [--rounds 3] [--baseline-source DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_inprocess  # noqa: E402
from compare.processes import free_port  # noqa: E402

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP collector that takes every export and keeps nothing."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


def sink(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests per run (default 10000)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gateway-source", default=str(HERE.parent / "server"), help="the server/ dir to run")
    parser.add_argument("--baseline-source", help="another server/ dir: its off and on runs join the rounds")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        sink(args.sink)
        return 0
    args.profile_child = False
    args.own = False  # bench_inprocess.run_child reads it (perf-hotpath added --own)
    with tempfile.TemporaryDirectory(prefix="tfy-tracing-") as scratch:
        upstream_port, sink_port = free_port(), free_port()
        upstream_process = subprocess.Popen(
            [sys.executable, str(HERE / "raw_upstream.py"), "--port", str(upstream_port)]
        )
        collector = subprocess.Popen([sys.executable, __file__, "--sink", str(sink_port)])
        try:
            upstream = f"http://127.0.0.1:{upstream_port}"
            base = bench_inprocess.prepare("gateway-bare", Path(scratch), upstream, Path(args.gateway_source))
            on = {"otel_traces_endpoint": f"http://127.0.0.1:{sink_port}/v1/traces"}
            runs = {
                "off": (base, args.gateway_source),
                "off+traceparent": ({**base, "headers": {"traceparent": TRACEPARENT}}, args.gateway_source),
                "on": ({**base, "settings": on}, args.gateway_source),
            }
            if args.baseline_source:
                (Path(scratch) / "baseline").mkdir()
                baseline = bench_inprocess.prepare(
                    "gateway-bare", Path(scratch) / "baseline", upstream, Path(args.baseline_source)
                )
                runs["baseline off"] = (baseline, args.baseline_source)
                runs["baseline on"] = ({**baseline, "settings": on}, args.baseline_source)
            figures: dict[str, list[float]] = {name: [] for name in runs}
            for round_ in range(args.rounds):
                for name, (spec, source) in runs.items():
                    result = bench_inprocess.run_child(
                        spec, argparse.Namespace(**{**vars(args), "gateway_source": source})
                    )
                    figures[name].append(result["cpu_us_per_request"])
                    spans = ""
                    if "spans_exported" in result:
                        spans = f"  spans exported {result['spans_exported']}, dropped {result['spans_dropped']}"
                    print(
                        f"round {round_ + 1} {name:16} {result['cpu_us_per_request']:7.1f} µs CPU/req{spans}",
                        flush=True,
                    )
            print(
                f"\nconcurrency {args.concurrency}, {args.requests} requests per run, median [min-max] of {args.rounds}"
            )
            for name, values in figures.items():
                reference = "baseline off" if name.startswith("baseline") else "off"
                off = statistics.median(figures[reference])
                median = statistics.median(values)
                extra = (
                    f"  {median - off:+.1f} µs ({median / off - 1:+.0%}) vs {reference}" if name != reference else ""
                )
                print(f"{name:16} {median:7.1f} [{min(values):.1f}-{max(values):.1f}] µs CPU/req{extra}")
        finally:
            for process in (upstream_process, collector):
                process.terminate()
                process.wait(timeout=15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
