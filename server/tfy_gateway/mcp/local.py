"""`--local`: the bundled gateway served in-process so the tools work with no control plane at all.

It runs under uvicorn in a background thread with its own event loop, on a free loopback port, with a
generated admin token and a persistent data dir (`default_data_dir`: applied config survives the
session). Beside it, in the same process, the bundled fake provider, which answers every upstream call
of that gateway (`offline_upstream`), and the starter catalog (the example provider accounts; see
`tfy_gateway.fakeprovider.starter`), so models exist and smoke tests pass offline at once. Nothing runs
as a child process and nothing is written outside the data dir, so a client that kills the server
(SIGTERM, SIGKILL, or closing its stdin) leaves nothing behind. The MCP server still reaches the
gateway over HTTP, exactly as it would reach the platform: this module only provides a base URL and
a key.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import uvicorn

from tfy_gateway.fakeprovider.offline import OfflineProviders

logger = logging.getLogger(__name__)

START_TIMEOUT = 20.0
DATA_DIR_VARIABLE = "TFY_GATEWAY_LOCAL_DATA_DIR"


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """`$TFY_GATEWAY_LOCAL_DATA_DIR`, else `$XDG_DATA_HOME/tfy-gateway/local`, else
    `~/.local/share/tfy-gateway/local` (the XDG base-directory default for user data)."""
    explicit = environ.get(DATA_DIR_VARIABLE, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = environ.get("XDG_DATA_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():  # the spec says to ignore a relative value
        return Path(xdg) / "tfy-gateway" / "local"
    home = environ.get("HOME", "").strip()
    return (Path(home) if home else Path.home()) / ".local" / "share" / "tfy-gateway" / "local"


class LocalGateway:
    """`with LocalGateway(data_dir) as gw: gw.env` -> TFY_BASE_URL and TFY_API_KEY for the local gateway."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.admin_token = "tfy_local_" + secrets.token_hex(20)
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._offline = OfflineProviders()

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

        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._offline.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        given = {
            "data_dir": self.data_dir,
            "host": "127.0.0.1",
            "port": self.port,
            "admin_token": self.admin_token,
            "offline_upstream": self._offline.url,
        }
        try:
            settings = load_settings(given, os.environ)  # TFY_GATEWAY_* tunables apply to the bundled gateway too
        except SettingsError as exc:
            sock.close()
            self._offline.stop()
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
        try:
            report = self._offline.seed(self.base_url, self.admin_token)
        except Exception as exc:  # the gateway works without it; say why there are no models
            logger.error("the starter provider accounts could not be applied: %s", exc)
        else:
            if report.applied:
                logger.info("starter provider accounts applied: %s", ", ".join(report.applied))
        logger.info(
            "local gateway at %s (data dir %s, fake provider %s)", self.base_url, self.data_dir, self._offline.url
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self._offline.stop()

    def __enter__(self) -> LocalGateway:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
