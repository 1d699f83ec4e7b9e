"""A local OTLP/HTTP receiver for the bench: takes every export, keeps only counts.

gateway-all exports traces (every request sampled) here, so that the tracing stage costs the
gateway what it costs in production (spans built, encoded, posted) without a collector's CPU in the
figures: it runs in its own process, which the harness does not count. `GET /counts` answers
`{"/v1/traces": {"exports": N, "bytes": B}, ...}`, so the report can show the spans did arrive.

    python scripts/compare/otlp_receiver.py --port 4318
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver(BaseHTTPRequestHandler):
    """Answers every POST 200 with an empty body, as an OTLP/HTTP collector does on success, on a
    kept-alive HTTP/1.1 connection as a collector does (BaseHTTPRequestHandler's HTTP/1.0 closed the
    connection after each export, so the gateway paid a new TCP connection per batch in the bench)."""

    protocol_version = "HTTP/1.1"

    counts: dict[str, dict[str, int]] = {}
    lock = threading.Lock()

    def do_POST(self) -> None:
        size = len(self.rfile.read(int(self.headers.get("content-length", 0))))
        with self.lock:
            entry = self.counts.setdefault(self.path, {"exports": 0, "bytes": 0})
            entry["exports"] += 1
            entry["bytes"] += size
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        with self.lock:
            body = json.dumps(self.counts).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    Receiver.counts = {}
    ThreadingHTTPServer(("127.0.0.1", args.port), Receiver).serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
