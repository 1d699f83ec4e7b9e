"""`otlp_http.PostConnection` reads a collector's answer only as far as HTTP/1.1 frames it: every
framing a collector may use (a length, chunks with trailers, until close, informational answers
first, HTTP/1.0) must leave the connection at the next answer, or not reused when it cannot be; and
`ProtobufSender` on it must deliver whole bodies, reuse one connection and recover from a stale one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from tfy_gateway.gateway.observability.otlp_http import BadAnswer, PostConnection, request_head
from tfy_gateway.gateway.observability.span_senders import ProtobufSender
from tfy_gateway.gateway.observability.spec import Target

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


@dataclass
class Collector:
    """A loopback server answering each request with the next scripted answer: (bytes, close after)."""

    answers: list[tuple[bytes, bool]]
    received: list[tuple[int, bytes, bytes]] = field(default_factory=list)  # (connection, head, body)
    port: int = 0


def _serve(listener: socket.socket, collector: Collector) -> None:
    number = 0
    while collector.answers:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        number += 1
        with conn:
            buffer = b""
            while collector.answers:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        break
                    buffer += data
                if b"\r\n\r\n" not in buffer:
                    break
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
                             .split(b":")[1])  # fmt: skip
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                collector.received.append((number, head, body))
                answer, close = collector.answers.pop(0)
                conn.sendall(answer)
                if close:
                    break


@contextmanager
def collector(*answers: tuple[bytes, bool]) -> Iterator[Collector]:
    made = Collector(list(answers))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    made.port = listener.getsockname()[1]
    thread = threading.Thread(target=_serve, args=(listener, made), daemon=True)
    thread.start()
    try:
        yield made
    finally:
        listener.close()
        thread.join(5)


HEAD = request_head("POST", "127.0.0.1", None, "/v1/traces", (("Content-Type", "application/x-protobuf"),))


@pytest.mark.parametrize(
    "first",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/x-protobuf\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ],
    ids=["length", "chunked", "continue-first", "no-content"],
)
def test_each_framing_leaves_the_connection_at_the_next_answer(first: bytes) -> None:
    with collector((first, False), (b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", False)) as made:
        connection = PostConnection("127.0.0.1", made.port, None, 5)
        assert connection.post(HEAD, b"batch-1", 5) in (200, 204)
        assert connection.reusable
        assert connection.post(HEAD, b"batch-2", 5) == 503
        connection.close()
    assert [(n, body) for n, _, body in made.received] == [(1, b"batch-1"), (1, b"batch-2")]


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nthe body runs until the connection ends",
    ],
    ids=["connection-close", "http-1.0", "until-close"],
)
def test_an_answer_that_ends_the_connection_makes_it_not_reusable(answer: bytes) -> None:
    with collector((answer, True)) as made:
        connection = PostConnection("127.0.0.1", made.port, None, 5)
        assert connection.post(HEAD, b"x", 5) == 200
        assert not connection.reusable
        connection.close()


def test_a_garbled_answer_is_an_error_not_a_status() -> None:
    with collector((b"SMTP ready\r\n\r\n", True)) as made:
        connection = PostConnection("127.0.0.1", made.port, None, 5)
        with pytest.raises(BadAnswer):
            connection.post(HEAD, b"x", 5)
        connection.close()


def test_the_sender_sends_whole_bodies_on_one_connection_and_says_who_it_is() -> None:
    big = bytes(range(256)) * 65536  # 16 MB: more than one write takes
    with collector((OK, False), (OK, False)) as made:
        target = Target("http/protobuf", f"http://127.0.0.1:{made.port}/v1/traces", (("Authorization", "Bearer t"),))
        sender = ProtobufSender(target, timeout_s=5)
        assert sender.send(big) is None
        assert sender.send(b"small") is None
        sender.close()
    assert [(n, body) for n, _, body in made.received] == [(1, big), (1, b"small")]
    head = made.received[0][1].split(b"\r\n")
    assert head[0] == b"POST /v1/traces HTTP/1.1"
    assert {b"Host: 127.0.0.1:%d" % made.port, b"Authorization: Bearer t"} <= set(head)
    assert b"Content-Type: application/x-protobuf" in head
    assert b"Content-Length: %d" % len(big) in head


def test_a_connection_the_collector_closed_while_idle_is_replaced_once() -> None:
    # the first answer keeps the connection (no Connection: close), then the collector drops it
    with collector((OK, True), (OK, False)) as made:
        sender = ProtobufSender(Target("http/protobuf", f"http://127.0.0.1:{made.port}/v1/traces"), timeout_s=5)
        assert sender.send(b"one") is None
        assert sender.send(b"two") is None
        sender.close()
    assert [(n, body) for n, _, body in made.received] == [(1, b"one"), (2, b"two")]


def test_a_header_that_would_break_the_request_fails_every_send_without_a_connection() -> None:
    target = Target("http/protobuf", "http://127.0.0.1:9/v1/traces", (("x-api-key", "a\r\nInjected: 1"),))
    reason = ProtobufSender(target, timeout_s=5).send(b"x")
    assert reason is not None and reason.startswith("ValueError")
