"""Start-up: how long `tfy-gateway serve` takes to answer, and `tfy-gateway validate` of one rule.

- serve: from spawning the process to the first 200 of the control plane (`/api/svc/v1/min-cli-version`),
  on a new data dir (schema, admin user and token created) and on an existing one; the CPU the process
  used until then (`/proc/<pid>/stat`), which a busy machine inflates less than wall time.
- validate: a one-rule file, the whole command (interpreter start and imports included), wall and CPU.
- the imports that cost most, from `python -X importtime` (cumulative, top level of each package).

Best and median of `--runs` for each, after one discarded run (the best is the machine's floor; the
median says how a shared machine moved it), with the load average, since wall time moves with it.
`--against OTHER/server` measures two checkouts alternately, run by run (before/after on the same load),
and prints one line per checkout and measure. `--instructions` adds what a shared machine cannot move:
the instructions (valgrind's callgrind, Ir, hash seed fixed) that `serve --help` (serve's imports, through
the command's entry point) and `validate` execute, per checkout; reproducible to ~0.01%, where CPU
seconds move by 20% with the load; about 2 minutes each at 50x slower. The processes run with
bytecode caching on whatever this shell says (`PYTHONDONTWRITEBYTECODE` is removed for them): without
`.pyc` files every start compiles the package's ~400 modules again, about as long as importing them,
which is not what an installed gateway does. Figures, not assertions.

    python scripts/bench_startup.py [--runs 7] [--imports 12] [--gateway-source ../other/server]
    python scripts/bench_startup.py --runs 7 --imports 0 --against ../before/server [--instructions]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

RULE = """\
name: limits
type: tenant-rate-limit-config/model
limits: {requests_per_minute: 5}
applies_to: {type: per-user}
mode: enforce
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TOKEN = "tfy_startup_" + "0" * 32  # a fixed admin token: no token file to read, nothing secret
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_cpu(pid: int) -> float:
    """utime + stime of `pid` in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def serve_once(data_dir: Path, env: Mapping[str, str]) -> tuple[float, float]:
    """(seconds to the first 200, CPU seconds used by then) of one `serve` on `data_dir`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/svc/v1/min-cli-version"
    command = [sys.executable, "-m", "tfy_gateway", "serve", "--data-dir", str(data_dir), "--port", str(port)]
    start = time.perf_counter()
    process = subprocess.Popen(
        [*command, "--log-level", "warning"],
        env={**env, "TFY_GATEWAY_ADMIN_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited with {process.returncode} before answering")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.005)
        ready = time.perf_counter() - start
        return ready, process_cpu(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def validate_once(path: Path, env: Mapping[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [sys.executable, "-m", "tfy_gateway", "validate", str(path)]
    subprocess.run(command, capture_output=True, check=True, env=dict(env))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def summary(figures: list[tuple[float, float]]) -> str:
    """Best and median of wall and CPU seconds."""
    walls, cpus = (sorted(column) for column in zip(*figures, strict=True))
    middle = len(walls) // 2
    return f"wall best {walls[0]:.3f} median {walls[middle]:.3f} s   cpu best {cpus[0]:.3f} median {cpus[middle]:.3f} s"


def top_imports(arguments: list[str], count: int, env: Mapping[str, str]) -> list[tuple[float, str]]:
    """The `count` costliest imports (cumulative ms) whose parent package is not itself listed."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *arguments], capture_output=True, text=True, check=False, env=dict(env)
    )
    rows: list[tuple[float, int, str]] = []
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        rows.append((int(parts[1]) / 1000, (len(name) - len(name.lstrip())) // 2, name.strip()))
    shallow = sorted((row for row in rows if row[1] <= 2), reverse=True)
    return [(ms, f"{'  ' * depth}{name}") for ms, depth, name in shallow[:count]]


def instructions(arguments: list[str], env: Mapping[str, str]) -> int:
    """Instructions executed by `python ARGUMENTS` under callgrind (deterministic for one checkout)."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, *arguments],
        capture_output=True,
        text=True,
        check=False,
        env={**env, "PYTHONHASHSEED": "0"},
    )
    for line in result.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    raise RuntimeError(f"callgrind gave no count: {result.stderr[-500:]}")


def source_env(source: Path | None) -> dict[str, str]:
    """The environment that starts `source`'s tfy_gateway (the installed one when None)."""
    return ENV if source is None else {**ENV, "PYTHONPATH": str(source.resolve())}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--imports", type=int, default=12, help="how many of the costliest imports to list")
    parser.add_argument("--gateway-source", type=Path, help="the server/ dir whose tfy_gateway to start")
    parser.add_argument("--against", type=Path, help="a second server/ dir, measured alternately with the first")
    parser.add_argument("--instructions", action="store_true", help="also count instructions under callgrind")
    args = parser.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind on PATH")
    checkouts = {"this": source_env(args.gateway_source)}
    if args.against is not None:
        checkouts = {"A (this)": checkouts["this"], "B (against)": source_env(args.against)}
    print(f"load average before: {load()}")
    with tempfile.TemporaryDirectory(prefix="tfy-startup-") as scratch:
        root = Path(scratch)
        rule = root / "one-rule.yaml"
        rule.write_text(RULE)
        fresh: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
        existing: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
        validates: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
        warm = {name: root / f"warm-up-{index}" for index, name in enumerate(checkouts)}
        for name, env in checkouts.items():
            serve_once(warm[name], env)  # writes the .pyc files a first start lacks, and the data dir
            validate_once(rule, env)
        for run in range(args.runs):
            # Alternate which checkout goes first, so that neither always follows the other.
            order = list(checkouts.items())[:: 1 if run % 2 == 0 else -1]
            for name, env in order:
                fresh[name].append(serve_once(root / f"fresh-{name[0]}-{run}", env))
                existing[name].append(serve_once(warm[name], env))
                validates[name].append(validate_once(rule, env))
        for label, figures in (
            ("serve, new data dir", fresh),
            ("serve, existing data dir", existing),
            ("validate, one rule", validates),
        ):
            for name, runs in figures.items():
                print(f"{label:25} {name:12} {args.runs} runs: {summary(runs)}")
        if args.instructions:
            commands = {"serve --help": ["-m", "tfy_gateway", "serve", "--help"]}
            commands["validate"] = ["-m", "tfy_gateway", "validate", str(rule)]
            for label, arguments in commands.items():
                for name, env in checkouts.items():
                    count = instructions(arguments, env)
                    print(f"instructions, {label:14} {name:12} {count / 1e6:10.1f} M Ir")
        if args.imports > 0:
            first = next(iter(checkouts.values()))
            for label, arguments in (
                ("validate", ["-m", "tfy_gateway", "validate", str(rule)]),
                ("serve --help", ["-m", "tfy_gateway", "serve", "--help"]),
            ):
                print(f"\ncostliest imports of `{label}` (-X importtime, cumulative ms):")
                for ms, module in top_imports(arguments, args.imports, first):
                    print(f"  {ms:8.1f}  {module}")
    print(f"\nload average after: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
