"""`tfy-gateway bench`: run the repository's benchmarks (`scripts/bench.py`, as `make bench` does).

The benchmark scripts live beside the package in a source checkout (`scripts/`, next to
`server/tfy_gateway/`) and are not installed with it, so outside a checkout this says where to get
them instead of failing obscurely.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import tfy_gateway
from tfy_gateway.cli._control_plane import EXIT_USAGE

NOT_A_CHECKOUT = (
    "benchmarks run from a source checkout: git clone <the tfy-gateway repository> && cd tfy-gateway && make bench "
    "(scripts/bench.py is not installed with the package)"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="run the benchmarks (validation speed, gateway overhead, routing) from a source checkout",
        description=(
            "Run every benchmark of a source checkout (scripts/bench_*.py through scripts/bench.py, as "
            "`make bench` does) with this Python, and exit with its status. The figures are measurements, "
            "not pass/fail thresholds: compare them between commits on an otherwise idle machine."
        ),
    )
    parser.set_defaults(handler=run)


def locate_bench_script(package_dir: Path | None = None) -> Path | None:
    """`scripts/bench.py` of the checkout holding `package_dir` (server/tfy_gateway), or None."""
    package = (package_dir or Path(tfy_gateway.__file__).parent).resolve()
    if package.parent.name != "server":  # installed into site-packages: no checkout around it
        return None
    script = package.parent.parent / "scripts" / "bench.py"
    return script if script.is_file() else None


def run(args: argparse.Namespace) -> int:
    script = locate_bench_script()
    if script is None:
        print(f"error: {NOT_A_CHECKOUT}", file=sys.stderr)
        return EXIT_USAGE
    return run_script(script)


def run_script(script: Path) -> int:
    """Run `script` with this Python from the checkout's root; its exit status is ours."""
    return subprocess.run([sys.executable, str(script)], cwd=script.parent.parent, check=False).returncode
