"""The demo's local stack: a fake provider and a gateway, each a real subprocess on a free port.

Both run in their own session (process group) so a Ctrl-C in the terminal reaches only the demo,
which then stops them itself; with `--keep` they simply outlive it. Their output goes to log files
in the data dir, never to the demo's stdout, so a captured run cannot hang on an inherited pipe.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tfy_gateway.gateway.settings import ADMIN_TOKEN_ENV, ADMIN_TOKEN_FILE

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
# Credentials and control-plane settings of the caller must not leak into the bundled processes.
CLEARED_ENV = ("TFY_BASE_URL", "TFY_HOST", "TFY_API_HOST", "TFY_API_KEY", ADMIN_TOKEN_ENV)
# The fake provider accepts any key; the provider accounts still reference secrets, as real ones must.
DEMO_SECRETS = {"TFY_SECRET_DEMO_OPENAI_API_KEY": "sk-demo-not-a-real-key", "TFY_SECRET_DEMO_AZURE_API_KEY": "demo"}


class StartupError(RuntimeError):
    """A bundled process did not come up; the message names its log file."""


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Service:
    """One subprocess: what it is, where it listens, where it logs."""

    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]
    health_path: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM (the servers drain and exit), SIGKILL if that takes too long."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class LocalStack:
    """The fake provider and the gateway the demo's MCP server talks to."""

    data_dir: Path
    admin_token: str
    fake_provider: Service
    gateway: Service
    temporary: bool = False

    @property
    def services(self) -> list[Service]:
        return [self.fake_provider, self.gateway]

    @property
    def token_path(self) -> Path:
        return self.data_dir / ADMIN_TOKEN_FILE

    @property
    def mcp_env(self) -> dict[str, str]:
        """What the MCP server needs, and all it gets: the platform's variable names."""
        return {"TFY_BASE_URL": self.gateway.url, "TFY_API_KEY": self.admin_token}

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()


def start_stack(data_dir: Path, *, temporary: bool) -> LocalStack:
    """Start both processes in parallel and wait until each answers; stop what started on failure."""
    data_dir.mkdir(parents=True, exist_ok=True)
    admin_token = "tfy_demo_" + secrets.token_hex(20)
    write_token_file(data_dir / ADMIN_TOKEN_FILE, admin_token)
    base_env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV and not k.startswith("TFY_SECRET_")}
    fake_port, gateway_port = _two_ports()
    started: list[Service] = []
    try:
        started.append(
            _spawn("fake provider", ["fake-provider"], fake_port, data_dir / "fake-provider.log", base_env, "/health")
        )
        started.append(
            _spawn(
                "gateway",
                ["serve", "--data-dir", str(data_dir)],
                gateway_port,
                data_dir / "gateway.log",
                {**base_env, ADMIN_TOKEN_ENV: admin_token, **DEMO_SECRETS},
                "/api/svc/v1/min-cli-version",
            )
        )
        for service in started:
            _wait_until_up(service)
    except BaseException:
        for service in reversed(started):
            service.stop()
        raise
    fake, gateway = started
    return LocalStack(data_dir, admin_token, fake, gateway, temporary)


def _two_ports() -> tuple[int, int]:
    """Distinct ports: neither process has bound its port yet when the second is picked."""
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


def write_token_file(path: Path, token: str) -> None:
    """The admin token for --keep users: the gateway writes none when TFY_GATEWAY_ADMIN_TOKEN is set.

    Mode 0600 from the first byte (never world-readable, even briefly), like the gateway's own file.
    """
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, (token + "\n").encode("ascii"))
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def _spawn(name: str, args: list[str], port: int, log_path: Path, env: dict[str, str], health_path: str) -> Service:
    command = [sys.executable, "-m", "tfy_gateway", *args, "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Service(name, port, log_path, process, health_path)


def _wait_until_up(service: Service, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    url = service.url + service.health_path
    with httpx.Client(timeout=1.0) as http:
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise StartupError(
                    f"the {service.name} exited with code {service.process.returncode} before it answered; "
                    f"see {service.log_path}"
                )
            try:
                http.get(url)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
    raise StartupError(f"the {service.name} did not answer {url} within {timeout:.0f} s; see {service.log_path}")
