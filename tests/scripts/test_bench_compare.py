"""scripts/bench_compare.py in a tiny mode (1 s runs, c=1, no LiteLLM), so that the harness cannot rot.

Checks the shape of the JSON and what must hold whatever the machine's speed: every system came up,
every run completed with 200s only (the example limits are raised so that nothing is refused), and
every figure the report prints is present. No timing assertions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO_ROOT, SUBPROCESS_TIMEOUT_S

SCRIPT = REPO_ROOT / "scripts" / "bench_compare.py"
SYSTEMS = ["upstream", "floor", "gateway-all"]
RUN_FIELDS = {
    "round", "system", "concurrency", "failure", "requests", "ok", "seconds", "rps", "p50_ms", "p90_ms", "p99_ms",
    "errors", "error_count", "cpu_us_per_request", "support_cpu_us_per_request", "loadgen_cpu_us_per_request",
    "rss_peak_mb", "rss_end_mb",
}  # fmt: skip


def run_harness(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        cwd=tmp_path,
    )


def test_tiny_run_writes_every_field(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = run_harness(
        tmp_path,
        "--systems", ",".join(SYSTEMS), "--levels", "1", "--stream-levels", "1", "--rounds", "1",
        "--seconds", "1", "--stream-seconds", "1", "--soak-seconds", "1", "--soak-rate", "20",
        "--soak-systems", "gateway-all", "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())

    assert set(data) >= {"meta", "order", "systems", "chat_runs", "stream_runs", "chat", "stream", "ratios"}
    assert set(data) >= {"peak_rss_mb_c256", "soak", "profile"}
    meta = data["meta"]
    assert {"nproc", "cpu_model", "loadavg"} <= set(meta["machine"])
    assert meta["load_generator"] in ("wrk", "python") and meta["levels"] == [1]
    assert data["order"] == SYSTEMS
    assert {name: info["status"] for name, info in data["systems"].items()} == dict.fromkeys(SYSTEMS, "ok")

    for row in data["chat_runs"] + data["stream_runs"]:
        assert set(row) >= RUN_FIELDS, set(row) ^ RUN_FIELDS
        assert row["failure"] is None and row["errors"] == {} and row["ok"] > 0
        assert row["cpu_us_per_request"] > 0 and row["rss_peak_mb"] > 0
    assert {row["system"] for row in data["chat_runs"]} == set(SYSTEMS)
    for row in data["chat_runs"]:  # what a request also costs outside the server: the upstream, the OTLP receiver
        proxied = row["system"] != "upstream"
        assert (row["upstream_cpu_us_per_request"] is not None and row["upstream_cpu_us_per_request"] > 0) == proxied
        assert (row["collector_cpu_us_per_request"] is not None) == (row["system"] == "gateway-all")
        assert (row["share_of_core_bound"] is not None) == proxied
    for row in data["chat_runs"]:  # the whole machine over the run: it did at least the server's work
        assert 0 < row["machine_busy"] <= 1
        assert row["machine_cpu_us_per_request"] > 0.5 * row["cpu_us_per_request"]
    assert all(row["ttft_p50_ms"] > 0 for row in data["stream_runs"])
    assert meta["stream_slices"] == 6 and all(row["slices"] == 0 for row in data["stream_runs"])  # c=1: in turn

    for system in SYSTEMS:
        chat = data["chat"][system]["1"]
        for field in ("rps", "p50_ms", "p90_ms", "p99_ms", "cpu_us_per_request", "rss_peak_mb"):
            assert chat[field]["median"] is not None, (system, field)
        assert data["stream"][system]["1"]["ttft_p50_ms"]["median"] is not None
    ratios = data["ratios"]
    assert set(ratios) == {
        "rps_vs_litellm", "cpu_vs_floor", "added_p50_vs_floor_ms", "added_p50_vs_upstream_ms",
        "added_ttft_vs_floor_ms", "added_total_vs_floor_ms",
    }  # fmt: skip
    assert ratios["rps_vs_litellm"] == {}  # LiteLLM was not in the run
    assert ratios["cpu_vs_floor"]["gateway-all"]["1"]["median"] > 0
    assert "gateway-all" in ratios["added_p50_vs_upstream_ms"] and "floor" in ratios["added_p50_vs_upstream_ms"]
    assert "gateway-all" in ratios["added_ttft_vs_floor_ms"]

    soak = data["soak"]["gateway-all"]
    assert soak["ok"] > 0 and soak["errors"] == {} and soak["samples"]
    assert soak["max_mb"] >= soak["min_mb"] > 0 and "drift_mb" in soak
    assert "gateway-all" in result.stdout and "cpu_vs_floor" in result.stdout  # the printed table
    assert "cores busy" in result.stdout


def test_unknown_system_is_refused_with_the_choices(tmp_path: Path) -> None:
    result = run_harness(tmp_path, "--systems", "floor,gatewy-all")
    assert result.returncode == 2
    assert "unknown system(s) gatewy-all" in result.stderr and "gateway-all" in result.stderr
