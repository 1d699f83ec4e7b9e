"""A py-spy profile of one system under load, reduced to its top functions by own (self) samples.

py-spy samples the server's Python stacks from outside (it needs ptrace: root, or
kernel.yama.ptrace_scope=0). With `--gil` (the default here) only samples of the thread holding the
GIL count, so the shares are of the server's Python CPU time, not of time spent waiting on I/O.
The raw collapsed stacks are kept next to the JSON for a flame graph (e.g. `flamegraph.pl`,
speedscope).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"  # pip installs it into the venv's bin
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, output: Path, *, gil: bool = True) -> subprocess.Popen[bytes]:
    """py-spy recording `pid` (and its subprocesses) for `seconds`, raw collapsed stacks to `output`."""
    executable = py_spy()
    if executable is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy")
    command = [executable, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    command += ["--rate", "250", "--format", "raw", "--output", str(output), "--subprocesses", "--nonblocking"]
    if gil:
        command.append("--gil")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _short(frame: str, root: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in (root + "/", "site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


def top(raw: Path, root: str, count: int = 25) -> dict[str, Any]:
    """Self and inclusive shares (% of samples) of the `count` functions with most self samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        samples = int(number)
        frames = [_short(frame, root) for frame in stack.split(";")[1:]]  # the first is the process/thread
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    entries = [
        {"function": name, "self_pct": 100 * n / total, "total_pct": 100 * inclusive[name] / total}
        for name, n in own.most_common(count)
    ]
    return {"samples": total, "top_self": entries}
