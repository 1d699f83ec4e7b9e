"""`--local`: the bundled gateway served in-process so the tools work with no control plane at all.

It runs under uvicorn in a background thread with its own event loop, on a free loopback port, with
a throwaway data directory and a generated admin token. The MCP server still reaches it over HTTP,
exactly as it would reach the platform: this module only provides a base URL and a key.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

logger = logging.getLogger(__name__)

START_TIMEOUT = 20.0


class LocalGateway:
    """`with LocalGateway() as gw: gw.env` -> TFY_BASE_URL and TFY_API_KEY for the local gateway."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self._owned_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="tfy-gateway-mcp-"))
        self.admin_token = "tfy_local_" + secrets.token_hex(20)
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {"TFY_BASE_URL": self.base_url, "TFY_API_KEY": self.admin_token}

    def start(self) -> None:
        # Imported here: only --local needs the gateway, and the MCP server otherwise never touches it.
        from tfy_gateway.gateway.app import create_app
        from tfy_gateway.gateway.settings import SettingsError, load_settings

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        given = {"data_dir": self.data_dir, "host": "127.0.0.1", "port": self.port, "admin_token": self.admin_token}
        try:
            settings = load_settings(given, os.environ)  # TFY_GATEWAY_* tunables apply to the bundled gateway too
        except SettingsError as exc:
            raise RuntimeError(f"the local gateway cannot start: {exc}") from None
        # log_config=None and no access log: uvicorn's defaults write to stdout, which is the MCP wire.
        config = uvicorn.Config(
            create_app(settings), log_config=None, access_log=False, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="local-gateway", daemon=True)
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the local gateway did not start (data dir {self.data_dir}); see the log above")
            time.sleep(0.02)
        logger.info("local gateway at %s (data dir %s)", self.base_url, self.data_dir)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        if self._owned_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalGateway:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
