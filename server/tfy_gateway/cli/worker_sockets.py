"""`serve --workers N` on Linux: a listening socket per worker, the kernel spreading connections.

uvicorn's supervisor binds one socket and every worker accepts from it. A burst of new connections
(a client's pool opening, a load generator starting) wakes every worker, and the first to run accepts
all that is queued: with two uvloop workers, 32 connections opened at once were split 32/0 in six
bursts of ten, so one worker served every connection while the other idled (issue 27,
gateway-workers). With SO_REUSEPORT each worker listens on a socket of its own bound to the same
address, and the kernel hashes each new connection to one of them: a binomial split (32 connections:
16 +- 3), never all on one worker but by a vanishing chance.

How: uvicorn's supervisor gives its sockets to the workers by pickling them (workers are started
with multiprocessing's spawn). `ReusePortSocket` pickles as "a new SO_REUSEPORT socket bound to this
address", so each worker (and each worker restarted later) unpickles a socket of its own, which
uvicorn's server then listens on and closes as before. The supervisor's socket, bound with
SO_REUSEPORT but never listening, holds the port and is handed no connection (only listening sockets
share them); a port already in use, even by a gateway of the same user, fails at start as before.
Elsewhere than Linux (no such spreading) the one shared socket stays.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

logger = logging.getLogger("uvicorn.error")

STARTUP_FAILURE = 3  # what uvicorn exits with when it cannot bind


def spreads_connections() -> bool:
    """Whether the kernel spreads connections over SO_REUSEPORT listeners (Linux 3.9+)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind_reuse_port(family: int, host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEADDR and SO_REUSEPORT, not listening yet."""
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class ReusePortSocket(socket.socket):
    """The supervisor's socket: sent to a worker, it arrives as a new socket bound to the same address."""

    def __reduce__(self) -> tuple[Any, ...]:
        host, port = self.getsockname()[:2]
        return bind_reuse_port, (int(self.family), host, port)


def supervisor_socket(host: str, port: int) -> ReusePortSocket:
    """The port held for the workers (port 0: the one the kernel picked, the same for every worker)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        # Without SO_REUSEPORT, as uvicorn binds: a port already served (another gateway started on
        # it, by the same user too) is refused here rather than joined and its connections shared.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    held = bind_reuse_port(family, host, port)
    sock = ReusePortSocket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=held.detach())
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    logger.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", shown, sock.getsockname()[1])
    return sock


def run(app: str, workers: int, options: dict[str, Any]) -> None:
    """uvicorn's supervisor running `workers` processes of the app factory `app`, each on its own
    SO_REUSEPORT socket where the kernel spreads connections (else on one shared socket)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if not spreads_connections():
        uvicorn.run(app, factory=True, workers=workers, **options)
        return
    config = uvicorn.Config(app, factory=True, workers=workers, **options)
    try:
        sock = supervisor_socket(config.host, config.port)
    except OSError as exc:
        logger.error(exc)
        sys.exit(STARTUP_FAILURE)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
