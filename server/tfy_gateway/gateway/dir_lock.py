"""Who may write a data dir: running servers, or one offline command, never both at once.

A server's store caches what it read; an offline `tfy-gateway users`/`tokens --data-dir` writing behind
its back is seen only later, so a token it prints fails for a while. The offline CLI therefore refuses
while a server runs on the dir, and goes through the server's API instead.

- A server process holds a *shared* `flock` on `<data-dir>/server.lock` for its lifetime (the workers of
  `serve --workers N` hold it together) and writes its pid (and address, when known) to
  `<data-dir>/server.pid` for the offline CLI's message.
- The offline CLI holds it *exclusively* for its whole command (`try_exclusive`), without waiting: a
  server holding it means "refuse" (`DataDirServed`).
- A server starting during an offline write waits for it, polling up to `timeout` seconds (such a write
  takes milliseconds), then fails with `DataDirBusy` naming the offline command's pid.

Server lifespan: `lock = DataDirLock(settings.data_dir, address=url); lock.acquire()`, and
`lock.release()` at shutdown (or `with DataDirLock(data_dir):` around the server's life).

`flock` is advisory and per machine: it does not protect a data dir shared over NFS. PostgreSQL
(`--database-url`) has no dir lock: an offline write is one transaction, and servers hear of it through
LISTEN/NOTIFY.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from tfy_gateway.gateway.errors import StateError
from tfy_gateway.gateway.private_files import private_dir

LOCK_FILE = "server.lock"
PID_FILE = "server.pid"
DEFAULT_TIMEOUT_S = 30.0
_POLL_S = 0.05


class DataDirBusy(StateError, RuntimeError):
    """Someone else holds the data dir's lock in a way that excludes the caller."""

    def __init__(self, data_dir: Path, pid: int | None, message: str) -> None:
        super().__init__(message)
        self.data_dir = data_dir
        self.pid = pid


class DataDirServed(DataDirBusy):
    """A gateway server runs on the data dir (`pid` is one of its processes, `address` where it listens)."""

    def __init__(self, data_dir: Path, pid: int | None, address: str | None) -> None:
        who = f"pid {pid}" if pid else "pid unknown"
        super().__init__(data_dir, pid, f"a gateway is serving {data_dir} ({who})")
        self.address = address


def _open_lock_file(data_dir: Path) -> int:
    return os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try_flock(descriptor: int, operation: int) -> bool:
    try:
        fcntl.flock(descriptor, operation | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _read_int(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


def _server_record(data_dir: Path) -> tuple[int | None, str | None]:
    """(pid, address) the last server to start on `data_dir` wrote; (None, None) when unreadable."""
    try:
        lines = (data_dir / PID_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None, None
    pid = _read_int(lines[0]) if lines else None
    address = lines[1].strip() if len(lines) > 1 and lines[1].strip() else None
    return pid, address


def _write_server_record(data_dir: Path, address: str | None) -> None:
    """Atomically (temp file + rename), so a reader never sees half a record."""
    temporary = data_dir / f".{PID_FILE}.{os.getpid()}.tmp"
    temporary.write_text(f"{os.getpid()}\n{address or ''}\n", encoding="utf-8")
    os.replace(temporary, data_dir / PID_FILE)


def _pause() -> None:
    """One poll interval of a server waiting for an offline command (a seam for tests)."""
    time.sleep(_POLL_S)


def _holders_are_shared(descriptor: int) -> bool:
    """With the exclusive lock refused: True when the holders are servers (a shared lock is granted)."""
    if _try_flock(descriptor, fcntl.LOCK_SH):
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return True
    return False


def owner_of(data_dir: Path) -> int | None:
    """The pid of a server running on `data_dir` (0 if it wrote none), or None when no server does."""
    if not (data_dir / LOCK_FILE).exists():
        return None
    descriptor = _open_lock_file(data_dir)
    try:
        if _try_flock(descriptor, fcntl.LOCK_EX):
            return None
        if not _holders_are_shared(descriptor):
            return None  # an offline command, not a server
        pid, _ = _server_record(data_dir)
        return pid or 0
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def try_exclusive(data_dir: Path) -> Iterator[None]:
    """Hold `data_dir` exclusively for an offline command, or raise at once: `DataDirServed` while a server
    runs on it, `DataDirBusy` while another offline command holds it."""
    descriptor = _open_lock_file(data_dir)
    try:
        if not _try_flock(descriptor, fcntl.LOCK_EX):
            if _holders_are_shared(descriptor):
                raise DataDirServed(data_dir, *_server_record(data_dir))
            pid = _read_int(os.pread(descriptor, 32, 0).decode("ascii", "replace"))
            raise DataDirBusy(
                data_dir, pid, f"another offline command (pid {pid or 'unknown'}) is writing to {data_dir}: retry"
            )
        # Alone now: the lock file itself says who holds it, for a server that has to wait.
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(descriptor)


class DataDirLock:
    """A server's shared hold on its data dir, from `acquire()` to `release()` (or as a context manager)."""

    def __init__(self, data_dir: Path, *, address: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.data_dir = data_dir
        self.address = address
        self.timeout = timeout
        self._descriptor: int | None = None

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    def acquire(self) -> None:
        """Take the shared lock, waiting (blocking this thread, polling) while an offline command writes.

        Raises `DataDirBusy` after `timeout` seconds, naming that command's pid.
        """
        if self._descriptor is not None:
            return
        private_dir(self.data_dir)
        # Written before locking: whenever the lock is shared-held, a server's pid is on disk.
        _write_server_record(self.data_dir, self.address)
        descriptor = _open_lock_file(self.data_dir)
        deadline = time.monotonic() + self.timeout
        while not _try_flock(descriptor, fcntl.LOCK_SH):
            if time.monotonic() >= deadline:
                pid = _read_int(os.pread(descriptor, 32, 0).decode("ascii", "replace"))
                os.close(descriptor)
                raise DataDirBusy(
                    self.data_dir,
                    pid,
                    f"an offline `tfy-gateway users`/`tokens` command (pid {pid or 'unknown'}) has held "
                    f"{self.data_dir / LOCK_FILE} for {self.timeout:g} s: let it finish or stop it, then start again",
                )
            _pause()
        self._descriptor = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
