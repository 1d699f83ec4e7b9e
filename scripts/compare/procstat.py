"""Server CPU time and resident memory from /proc, summed over a process and its descendants.

CPU per request is the figure that survives a noisy machine (other processes slow a server down but
do not add to its own CPU time), so it is read from the kernel, not inferred from wall time. Sums
over the tree cover multi-worker servers (uvicorn `--workers`, LiteLLM's launcher). RSS summed over
a tree counts pages shared between workers once per worker: an upper bound, said so in the report.
Linux only (the harness refuses to start elsewhere).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after its closing parenthesis.
    return raw[raw.rindex(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """`root` and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of `pids` (fields 14 and 15 of /proc/<pid>/stat), in seconds."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, every core summed (/proc/stat's `cpu`
    line; idle and iowait are not busy). Over a run, busy says how much of the machine worked and
    busy minus the measured processes' CPU how much went to processes the run does not count (a
    trace receiver, the kernel's threads, anything else on the machine)."""
    try:
        fields = [int(x) for x in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    idle = fields[3] + fields[4]
    return (total - idle) / TICKS, total / TICKS


def rss_mb(pids: list[int]) -> float:
    """Resident set size of `pids` (second field of /proc/<pid>/statm), in MB (10^6 bytes)."""
    total = 0
    for pid in pids:
        try:
            total += int((PROC / str(pid) / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total * PAGE / 1e6


@dataclass
class RssSampler:
    """Samples a tree's RSS every `interval` seconds in a thread: `with RssSampler(pid) as s: ...; s.peak`."""

    root: int
    interval: float = 0.1
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MB)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def peak(self) -> float:
        return max((mb for _, mb in self.samples), default=0.0)

    def _run(self) -> None:
        started = time.monotonic()
        pids = tree(self.root)
        while True:
            self.samples.append((time.monotonic() - started, rss_mb(pids)))
            if self._stop.wait(self.interval):
                return
            pids = tree(self.root) if len(self.samples) % 10 == 0 else pids  # workers may restart

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def machine() -> dict[str, object]:
    """What the figures ran on: CPU count and model, load averages, memory."""
    model = ""
    try:
        for line in (PROC / "cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int((PROC / "meminfo").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        mem_kb = 0
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "loadavg": list(os.getloadavg()),
        "mem_total_gb": round(mem_kb / 1e6, 1),
        "kernel": os.uname().release,
    }
