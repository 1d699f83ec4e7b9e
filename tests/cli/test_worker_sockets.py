"""`worker_sockets`: what a worker receives is a socket of its own on the supervisor's port."""

from __future__ import annotations

import io
import pickle
import select
import socket
from multiprocessing.reduction import ForkingPickler

import pytest

from tfy_gateway.cli.worker_sockets import spreads_connections, supervisor_socket

pytestmark = pytest.mark.skipif(not spreads_connections(), reason="SO_REUSEPORT spreading is Linux's")


def sent_to_a_worker(sock: socket.socket) -> socket.socket:
    """`sock` as a worker started by multiprocessing's spawn (uvicorn's supervisor) receives it."""
    buffer = io.BytesIO()
    ForkingPickler(buffer, pickle.HIGHEST_PROTOCOL).dump(sock)
    received = pickle.loads(buffer.getvalue())
    assert isinstance(received, socket.socket)
    return received


def test_a_worker_receives_its_own_socket_bound_to_the_supervisors_port() -> None:
    held = supervisor_socket("127.0.0.1", 0)
    port = held.getsockname()[1]
    first, second = sent_to_a_worker(held), sent_to_a_worker(held)
    try:
        assert first.getsockname() == second.getsockname() == ("127.0.0.1", port)
        assert len({held.fileno(), first.fileno(), second.fileno()}) == 3
        for sock in (held, first, second):
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
    finally:
        for sock in (held, first, second):
            sock.close()


def test_connections_are_spread_over_the_workers_listeners_and_none_go_to_the_supervisors() -> None:
    held = supervisor_socket("127.0.0.1", 0)
    port = held.getsockname()[1]
    listeners = [sent_to_a_worker(held) for _ in range(2)]
    clients: list[socket.socket] = []
    try:
        for listener in listeners:
            listener.listen(128)
        clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(64)]
        accepted = [0, 0]
        while sum(accepted) < len(clients):
            ready, _, _ = select.select(listeners, [], [], 30)
            assert ready, f"{len(clients) - sum(accepted)} connections reached no worker's socket"
            for listener in ready:
                listener.accept()[0].close()
                accepted[listeners.index(listener)] += 1
        # Hashed over two listeners, 64 connections all landing on one has a chance of 2**-63.
        assert min(accepted) > 0, accepted
    finally:
        for sock in (held, *listeners, *clients):
            sock.close()


def test_a_port_already_served_is_refused_not_shared() -> None:
    held = supervisor_socket("127.0.0.1", 0)
    port = held.getsockname()[1]
    listener = sent_to_a_worker(held)
    try:
        listener.listen(8)
        with pytest.raises(OSError):  # another gateway started on the same port, by the same user
            supervisor_socket("127.0.0.1", port)
    finally:
        held.close()
        listener.close()
