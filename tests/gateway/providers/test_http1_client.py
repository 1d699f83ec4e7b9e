"""The lean HTTP/1.1 client behind AiohttpTransport.post, against real local aiohttp servers: answers as
aiohttp gave them (keep-alive, chunked, gzip), its time limits' phases, its failures, and uvloop."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import socket
import ssl
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from aiohttp import web

from tests.gateway.providers.conftest import serving
from tfy_gateway.gateway.providers import AiohttpTransport, HttpRequest, Timeouts
from tfy_gateway.gateway.providers.http1_client import Http1Client, Limits, _head, origin_of
from tfy_gateway.gateway.providers.transport import (
    TracedHeaders,
    TransportConnectError,
    TransportError,
    TransportTimeout,
)

NO_LIMITS = Limits(None, None, None, "total")


async def test_answers_keep_their_connection_and_headers() -> None:
    peers: list[Any] = []
    seen: list[dict[str, str]] = []

    async def echo(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        seen.append(dict(request.headers))
        return web.json_response({"got": (await request.read()).decode()}, headers={"X-Upstream": "yes"})

    async with serving(echo) as server:
        client = Http1Client(1 << 20)
        port = server.port
        url = f"http://127.0.0.1:{port}/v1/chat/completions?api-version=1"
        try:
            first = await client.post(
                url, {"authorization": "Bearer k", "content-type": "application/json"}, b"a", NO_LIMITS
            )
            second = await client.post(url, {}, b"b", NO_LIMITS)
        finally:
            client.close()
    assert (first.status, first.body, second.body) == (200, b'{"got": "a"}', b'{"got": "b"}')
    assert first.headers["x-upstream"] == "yes" and first.headers["CONTENT-TYPE"].startswith("application/json")
    assert peers[0] == peers[1]  # the second call reused the first's connection
    assert seen[0]["Authorization"] == "Bearer k" and seen[0]["Host"] == f"127.0.0.1:{port}"
    assert seen[0]["Content-Length"] == "1" and "gzip" in seen[0]["Accept-Encoding"]


async def test_chunked_and_gzip_answers_are_read_whole() -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for piece in (b'{"a":', b" 1}"):
            await response.write(piece)
        await response.write_eof()
        return response

    async def zipped(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(b'{"z": true}'), headers={"Content-Encoding": "gzip"})

    async with serving(chunked) as one, serving(zipped) as two:
        client = Http1Client(1 << 20)
        try:
            assert (await client.post(f"http://127.0.0.1:{one.port}/", {}, b"", NO_LIMITS)).body == b'{"a": 1}'
            assert (await client.post(f"http://127.0.0.1:{two.port}/", {}, b"", NO_LIMITS)).body == b'{"z": true}'
        finally:
            client.close()


async def test_limits_end_a_call_with_their_phase_and_the_connection() -> None:
    release = asyncio.Event()

    async def silent(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    async with serving(silent) as server:
        client = Http1Client(1 << 20)
        url = f"http://127.0.0.1:{server.port}/"
        try:
            with pytest.raises(TransportTimeout) as read:
                await client.post(url, {}, b"", Limits(None, 0.05, 5.0, "total"))
            assert read.value.phase == "read"
            with pytest.raises(TransportTimeout) as total:
                await client.post(url, {}, b"", Limits(None, None, 0.05, "first_token"))
            assert total.value.phase == "first_token"
            assert not client._idle.get(("http", "127.0.0.1", server.port))  # neither connection kept
        finally:
            release.set()
            client.close()


async def test_a_refused_connection_and_a_dropped_one() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = Http1Client(1 << 20)
    try:
        with pytest.raises(TransportConnectError):
            await client.post(f"http://127.0.0.1:{port}/", {}, b"", NO_LIMITS)

        async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        async with server:
            url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
            with pytest.raises(TransportError, match="ServerDisconnectedError"):
                await client.post(url, {}, b"", NO_LIMITS)
    finally:
        client.close()


async def test_an_informational_answer_is_skipped_for_the_one_that_follows() -> None:
    answered = asyncio.Event()

    async def hints_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: 1\r\n\r\nok")
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()
            answered.set()

    server = await asyncio.start_server(hints_first, "127.0.0.1", 0)
    async with server:
        client = Http1Client(1 << 20)
        try:
            url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
            answer = await client.post(url, {}, b"", NO_LIMITS)
            await answered.wait()
        finally:
            client.close()
    assert (answer.status, answer.body, answer.headers.get("link")) == (200, b"ok", None)
    assert answer.headers["x-final"] == "1"


async def test_a_host_header_of_the_caller_replaces_the_urls() -> None:
    hosts: list[list[str]] = []

    async def ok(request: web.Request) -> web.Response:
        hosts.append(request.headers.getall("host"))
        return web.json_response({})

    async with serving(ok) as server:
        client = Http1Client(1 << 20)
        try:
            await client.post(f"http://127.0.0.1:{server.port}/", {"Host": "api.example"}, b"", NO_LIMITS)
        finally:
            client.close()
    assert hosts == [["api.example"]]


async def test_the_body_is_framed_by_its_own_length_whatever_the_caller_says() -> None:
    framing: list[tuple[list[str], list[str], bytes]] = []

    async def ok(request: web.Request) -> web.Response:
        headers = request.headers
        framing.append(
            (headers.getall("content-length", []), headers.getall("transfer-encoding", []), await request.read())
        )
        return web.json_response({})

    async with serving(ok) as server:
        client = Http1Client(1 << 20)
        try:
            stale = {"Content-Length": "999", "Transfer-Encoding": "chunked"}
            answer = await client.post(f"http://127.0.0.1:{server.port}/", stale, b"body", NO_LIMITS)
        finally:
            client.close()
    assert answer.status == 200 and framing == [(["4"], [], b"body")]


async def test_a_header_with_a_line_break_is_refused() -> None:
    client = Http1Client(1 << 20)
    try:
        with pytest.raises(ValueError, match="Newline"):
            await client.post("http://127.0.0.1:1/", {"x-evil": "a\r\nHost: elsewhere"}, b"", NO_LIMITS)
        with pytest.raises(ValueError, match="Newline"):  # shared read-only headers too, every time
            shared = MappingProxyType({"x-evil": "a\nHost: elsewhere"})
            await client.post("http://127.0.0.1:1/", shared, b"", NO_LIMITS)
        with pytest.raises(ValueError, match="Newline"):
            await client.post("http://127.0.0.1:1/", shared, b"", NO_LIMITS)
    finally:
        client.close()


async def test_shared_read_only_headers_go_out_as_given_with_each_bodys_length() -> None:
    """The head of a target's shared headers is built once; each request still gets its own length,
    each URL its own request line, and a stream its own Accept-Encoding."""
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append((request.path, dict(request.headers), await request.read()))
        return web.json_response({})

    shared = MappingProxyType({"authorization": "Bearer k", "content-type": "application/json"})
    async with serving(echo) as server:
        client = Http1Client(1 << 20)
        base = f"http://127.0.0.1:{server.port}/v1"
        try:
            await client.post(base + "/chat/completions", shared, b"one", NO_LIMITS)
            await client.post(base + "/chat/completions", shared, b"three", NO_LIMITS)
            await client.post(base + "/embeddings", shared, b"", NO_LIMITS)
            stream = await client.open_stream(base + "/chat/completions", shared, b"four", NO_LIMITS)
            await stream.aclose(drain=True)
        finally:
            client.close()
    assert [(path, body, headers["Content-Length"]) for path, headers, body in seen] == [
        ("/v1/chat/completions", b"one", "3"),
        ("/v1/chat/completions", b"three", "5"),
        ("/v1/embeddings", b"", "0"),
        ("/v1/chat/completions", b"four", "4"),
    ]
    assert all(headers["Authorization"] == "Bearer k" for _, headers, _ in seen)
    assert [headers["Accept-Encoding"] for _, headers, _ in seen] == ["gzip, deflate"] * 3 + ["identity"]


@pytest.mark.parametrize(
    "trace",
    [
        {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "a=1"},
        {"authorization": "Bearer other"},  # a name the shared headers have: written as the dict would be
        {"User-Agent": "tracer"},  # a name the client would add itself
        {"Content-Length": "99"},  # a framing name: dropped, as from any caller
        {},
    ],
)
async def test_a_traced_calls_head_is_the_head_of_its_headers_as_one_mapping(trace: dict[str, str]) -> None:
    """A call's trace context after a target's shared headers (`TracedHeaders`) goes out exactly as
    the same headers in one dict would, the shared part's fields kept between calls."""
    shared = MappingProxyType({"authorization": "Bearer k", "content-type": "application/json"})
    client = Http1Client(1 << 20)
    try:
        origin = origin_of("http://127.0.0.1:1/v1/chat/completions")
        for encodings in ("gzip, deflate", "identity"):
            plain = client._head(origin, shared, 3, encodings)  # kept, as a plain call leaves it
            traced = TracedHeaders(shared, trace)
            for length in (3, 12):
                assert client._head(origin, traced, length, encodings) == _head(origin, dict(traced), length, encodings)
            assert client._head(origin, shared, 3, encodings) == plain
    finally:
        client.close()


async def test_a_traced_header_with_a_line_break_is_refused() -> None:
    client = Http1Client(1 << 20)
    shared = MappingProxyType({"authorization": "Bearer k"})
    try:
        for _ in range(2):  # with the shared head kept and without
            with pytest.raises(ValueError, match="Newline"):
                headers = TracedHeaders(shared, {"tracestate": "a=1\r\nHost: elsewhere"})
                await client.post("http://127.0.0.1:1/", headers, b"", NO_LIMITS)
    finally:
        client.close()


async def test_calls_started_in_one_loop_turn_each_get_their_own_answer() -> None:
    # All but the first request of a loop turn are written at the turn's end: each must still go out,
    # whole, on its own connection (a large body too), and a closed client writes none of those left.
    seen: list[bytes] = []

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(body)
        return web.Response(body=body[:16] + str(len(body)).encode())

    bodies = [f"call-{n:02}".encode() for n in range(12)] + [b"x" * 100_000]
    async with serving(echo) as server:
        client = Http1Client(1 << 20)
        url = f"http://127.0.0.1:{server.port}/"
        try:
            for _ in range(2):  # fresh connections, then the pooled ones
                answers = await asyncio.gather(*(client.post(url, {}, body, NO_LIMITS) for body in bodies))
                assert [a.body for a in answers] == [b[:16] + str(len(b)).encode() for b in bodies]
            calls = [asyncio.ensure_future(client.post(url, {}, body, NO_LIMITS)) for body in bodies[:3]]
            await asyncio.sleep(0)  # the three wrote or deferred their requests in this turn
            client.close()
            for call in calls:
                with pytest.raises(TransportError):
                    await call
        finally:
            client.close()
    assert sorted(seen[: 2 * len(bodies)]) == sorted(bodies * 2)


async def test_a_cancelled_call_does_not_leave_its_connection_for_the_next() -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def held(request: web.Request) -> web.Response:
        if request.headers.get("x-hold"):
            entered.set()
            await release.wait()
        return web.json_response({"ok": True})

    async with serving(held) as server:
        client = Http1Client(1 << 20)
        url = f"http://127.0.0.1:{server.port}/"
        try:
            call = asyncio.ensure_future(client.post(url, {"x-hold": "1"}, b"", NO_LIMITS))
            await entered.wait()
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            assert (await client.post(url, {}, b"", NO_LIMITS)).body == b'{"ok": true}'
        finally:
            release.set()
            client.close()


def test_it_runs_on_uvloop() -> None:
    """The production loop: uvloop's transports are not asyncio.Transport subclasses."""
    uvloop = pytest.importorskip("uvloop")

    async def main() -> bytes:
        async def ok(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        async with serving(ok) as server, AiohttpTransport() as transport:
            request = HttpRequest(f"http://127.0.0.1:{server.port}/", {}, b"{}", timeouts=Timeouts.within(600))
            await transport.post(request)
            return (await transport.post(request)).body

    loop = uvloop.new_event_loop()
    try:
        assert loop.run_until_complete(main()) == b'{"ok": true}'
    finally:
        loop.close()


def self_signed(directory: Path) -> Path:
    """A certificate for localhost and its key, in one PEM file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = directory / "localhost.pem"
    pem.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return pem


async def test_https_verifies_the_server_by_its_name(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    pem = self_signed(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(pem)

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"secure": request.secure})

    runner = web.AppRunner(web.Application(handler_args=None))
    runner.app.router.add_post("/", ok)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=served)
    await site.start()
    port = runner.addresses[0][1]
    try:
        trusting = Http1Client(1 << 20, tls=ssl.create_default_context(cafile=str(pem)))
        try:
            answer = await trusting.post(f"https://localhost:{port}/", {}, b"", NO_LIMITS)
            assert answer.body == b'{"secure": true}'
        finally:
            trusting.close()
        default = Http1Client(1 << 20)  # the system's CAs do not know this certificate
        try:
            with pytest.raises(TransportConnectError):
                await default.post(f"https://localhost:{port}/", {}, b"", NO_LIMITS)
        finally:
            default.close()
    finally:
        await runner.cleanup()


async def test_a_stream_reads_as_it_comes_and_keeps_its_connection_once_read_to_the_end() -> None:
    peers: list[Any] = []
    gone = asyncio.Event()

    async def events(request: web.Request) -> web.StreamResponse:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        try:
            for index in range(3 if request.headers.get("x-short") else 100_000):  # until the client goes
                await response.write(b"data: %d\n\n" % index + b"x" * 4096)
                await asyncio.sleep(0)
        except (ConnectionResetError, asyncio.CancelledError):
            gone.set()
            raise
        await response.write_eof()
        return response

    async with serving(events) as server:
        client = Http1Client(1 << 20)
        url = f"http://127.0.0.1:{server.port}/"
        try:
            stream = await client.open_stream(url, {"x-short": "1"}, b"{}", NO_LIMITS)
            assert stream.status == 200 and stream.headers["Content-Type"] == "text/event-stream"
            received = b""
            while piece := await stream.read():
                received += piece
            assert received.count(b"data: ") == 3
            await stream.aclose(drain=True)
            # A long one read slowly (the connection pauses past its buffer), then left unread: closed.
            stream = await client.open_stream(url, {}, b"{}", NO_LIMITS)
            first = await stream.read()
            await asyncio.sleep(0.05)
            assert first.startswith(b"data: 0")
            more = 0
            for _ in range(50):
                more += len(await stream.read())
            assert more > 0
            await stream.aclose()
            await asyncio.wait_for(gone.wait(), 10)  # the server saw the client go: the generation stops
            third = await client.open_stream(url, {"x-short": "1"}, b"{}", NO_LIMITS)
            while await third.read():
                pass
            await third.aclose(drain=True)
        finally:
            client.close()
    assert peers[0] == peers[1] != peers[2]  # reused after the read-out stream, not after the abandoned one


async def test_a_streams_silence_ends_it_with_the_read_phase() -> None:
    release = asyncio.Event()

    async def stalls(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: 1\n\n")
        await release.wait()
        return response

    async with serving(stalls) as server:
        client = Http1Client(1 << 20)
        try:
            stream = await client.open_stream(
                f"http://127.0.0.1:{server.port}/", {}, b"{}", Limits(None, 0.05, None, "total")
            )
            assert await stream.read() == b"data: 1\n\n"
            with pytest.raises(TransportTimeout) as silent:
                await stream.read()
            assert silent.value.phase == "read"
            await stream.aclose(drain=True)
        finally:
            release.set()
            client.close()


def test_an_unusable_url_says_what_is_wrong_with_it() -> None:
    with pytest.raises(TransportConnectError, match=r"unsupported URL scheme 'ftp' \(http or https\)"):
        origin_of("ftp://api.example/v1")
    with pytest.raises(TransportConnectError, match=r"names no host.*base_url"):
        origin_of("http:///v1/chat/completions")


def test_traced_headers_show_their_names_but_no_credential() -> None:
    """A traced call's headers may reach a log or an error through their repr: names only, since the
    shared part holds the target's Authorization."""
    headers = TracedHeaders(MappingProxyType({"authorization": "Bearer sk-secret-1"}), {"traceparent": "00-ab"})
    shown = repr(headers)
    assert "authorization" in shown and "traceparent" in shown
    assert "sk-secret-1" not in shown and "00-ab" not in shown
