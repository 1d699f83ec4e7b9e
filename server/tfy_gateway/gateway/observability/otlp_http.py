"""One kept-alive HTTP/1.1 connection to an OTLP/HTTP collector: POST a batch, read the status.

The export thread sends a batch of a few hundred kilobytes every few hundred requests. http.client
cost about 220 µs of that thread's CPU per 360 kB batch on loopback, most of it parsing the answer's
headers (email.parser, ~125 µs) and copying the body behind the request head (~30 µs): CPU the
serving loop's process pays and a GIL the loop waits for. Here the head and the body leave in one
`sendmsg` (no copy; TLS: two writes) and the answer is read as far as HTTP/1.1 needs to frame it:
its status line, `Content-Length`, `Transfer-Encoding: chunked` and `Connection`; its body (a
collector's `ExportTraceServiceResponse`, usually empty) is read and discarded.
"""

from __future__ import annotations

import socket
import ssl

MAX_HEAD = 65536  # an answer's status line and headers, at most
READ = 65536


class BadAnswer(Exception):
    """The collector's answer is not HTTP/1.x as this connection reads it."""


def request_head(method: str, host: str, port: int | None, path: str, headers: tuple[tuple[str, str], ...]) -> bytes:
    """A request's head up to its `Content-Length` value (the caller adds the length and the blank line);
    `port` None: the scheme's default, left out of `Host` as http.client does. Raises ValueError for a
    header that would break the head (a CR, LF or NUL), as http.client does."""
    authority = f"[{host}]" if ":" in host else host
    lines = [f"{method} {path} HTTP/1.1", f"Host: {authority}" if port is None else f"Host: {authority}:{port}"]
    for name, value in headers:
        if not name or any(c in name for c in ":\r\n\0 ") or any(c in value for c in "\r\n\0"):
            raise ValueError(f"invalid header {name!r}")
        lines.append(f"{name}: {value}")
    lines.append("Content-Length: ")
    return "\r\n".join(lines).encode("latin-1")


class PostConnection:
    """A connection that posts bodies one at a time and reads each answer whole (`reusable` is false
    once the collector said it closes, or the answer ran until the connection's end)."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, timeout_s: float) -> None:
        sock = socket.create_connection((host, port), timeout=timeout_s)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                sock = tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._tls = tls is not None
        self._buffer = bytearray()
        self.reusable = True

    def post(self, head: bytes, body: bytes, timeout_s: float) -> int:
        """Send `head` (from `request_head`) with `body`'s length and `body`; the answer's status."""
        sock = self._sock
        sock.settimeout(timeout_s)
        head = head + str(len(body)).encode() + b"\r\n\r\n"
        if self._tls:  # an SSL socket has no sendmsg
            sock.sendall(head)
            sock.sendall(body)
        else:
            sent = sock.sendmsg((head, body))
            if sent < len(head):
                sock.sendall(head[sent:])
                sock.sendall(body)
            elif sent < len(head) + len(body):
                sock.sendall(memoryview(body)[sent - len(head) :])
        return self._answer()

    def close(self) -> None:
        self.reusable = False
        self._sock.close()

    def _answer(self) -> int:
        while True:
            end = self._until(b"\r\n\r\n", MAX_HEAD)
            lines = bytes(self._buffer[:end]).split(b"\r\n")
            del self._buffer[: end + 4]
            parts = lines[0].split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
                raise BadAnswer(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
            status = int(parts[1])
            if 100 <= status < 200:  # informational: the answer follows
                continue
            fields: dict[bytes, bytes] = {}
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                fields[name.strip().lower()] = value.strip().lower()
            connection = fields.get(b"connection", b"")
            if b"close" in connection or (parts[0] == b"HTTP/1.0" and b"keep-alive" not in connection):
                self.reusable = False
            if status in (204, 304):
                return status
            if b"chunked" in fields.get(b"transfer-encoding", b""):
                self._chunks()
            elif b"content-length" in fields:
                length = fields[b"content-length"]
                if not length.isdigit():
                    raise BadAnswer(f"Content-Length {length[:40]!r}")
                self._skip(int(length))
            else:  # the body runs until the collector closes
                self.reusable = False
                while self._sock.recv(READ):
                    pass
            return status

    def _until(self, marker: bytes, limit: int) -> int:
        """Read until `marker` is buffered; its offset."""
        start = 0
        while True:
            found = self._buffer.find(marker, start)
            if found >= 0:
                return found
            if len(self._buffer) > limit:
                raise BadAnswer(f"no {marker!r} in {limit} bytes")
            start = max(len(self._buffer) - len(marker) + 1, 0)
            self._read()

    def _read(self) -> None:
        data = self._sock.recv(READ)
        if not data:
            raise ConnectionError("the collector closed the connection")
        self._buffer += data

    def _skip(self, size: int) -> None:
        while len(self._buffer) < size:
            size -= len(self._buffer)
            self._buffer.clear()
            self._read()
        del self._buffer[:size]

    def _chunks(self) -> None:
        while True:
            end = self._until(b"\r\n", MAX_HEAD)
            size_text = bytes(self._buffer[:end]).split(b";", 1)[0].strip()
            del self._buffer[: end + 2]
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadAnswer(f"chunk size {size_text[:40]!r}") from None
            if size == 0:  # trailers, then a blank line
                while True:
                    end = self._until(b"\r\n", MAX_HEAD)
                    del self._buffer[: end + 2]
                    if end == 0:
                        return
            self._skip(size + 2)
