"""`make bench`: run every benchmark script (scripts/bench_*.py) in turn; each prints its figures.

bench_compare.py is the side-by-side one (the gateway vs a raw upstream, a minimal proxy and LiteLLM,
about 10 minutes; `make bench-quick` runs its short form): see references/performance.md.

Benchmarks are measurements, never assertions: run them on an otherwise idle machine and compare
numbers between commits, not against a threshold.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n== {script.stem} ==", flush=True)
        if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
