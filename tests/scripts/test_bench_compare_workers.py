"""bench_compare starts driving `serve --workers N` only once every worker holds the applied manifests:
a worker still on the previous configuration answers 404 for the benchmark's model."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.helpers import REPO_ROOT


@pytest.fixture
def systems(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(REPO_ROOT / "scripts"))  # for its `compare` package
    from compare import systems

    return systems


@pytest.fixture
def health_server() -> Iterator[tuple[str, list[dict[str, int]], list[int]]]:
    """A server answering `/api/llm/health` with the given answers in turn (the last one repeated),
    noting the client port of each connection it was asked on."""
    answers: list[dict[str, int]] = []
    connections: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            connections.append(self.client_address[1])
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            body = json.dumps({"status": "ok", **answer}).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answers, connections
    finally:
        server.shutdown()
        server.server_close()


def test_waits_until_every_worker_names_the_same_store_version(systems: Any, health_server: Any) -> None:
    base, answers, connections = health_server
    # worker 1 answered the apply (version 9); worker 2 is still on 7, then loads 9
    answers += [{"worker": 1, "store_version": 9}, {"worker": 1, "store_version": 9}]
    answers += [{"worker": 2, "store_version": 7}, {"worker": 1, "store_version": 9}]
    answers += [{"worker": 2, "store_version": 9}]
    systems.wait_until_workers_agree(base, 2)
    assert len(connections) == 5 and not answers[1:]  # it asked until worker 2 had caught up
    assert len(set(connections)) == 5  # every probe on a new connection, which any worker may accept


def test_gives_up_with_what_each_worker_holds(systems: Any, health_server: Any) -> None:
    base, answers, _ = health_server
    answers += [{"worker": 1, "store_version": 9}]  # the second worker never answers
    with pytest.raises(systems.StartError, match=r"2 workers did not load the same configuration.*\{1: 9\}"):
        systems.wait_until_workers_agree(base, 2, timeout=0.5)
