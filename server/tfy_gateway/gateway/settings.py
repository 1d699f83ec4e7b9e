"""Settings of a local gateway process: where it listens and where it keeps its state.

Settings are plain values built once by the `serve` command (or a test) and passed to `create_app`;
the app never reads the environment itself, so two apps in one process never share configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_DATA_DIR = ".tfy-gateway"
DEFAULT_TENANT = "local"
DEFAULT_ADMIN_EMAIL = "admin@local"
MAX_BODY_BYTES = 5 * 1024 * 1024
ADMIN_TOKEN_ENV = "TFY_GATEWAY_ADMIN_TOKEN"
ADMIN_TOKEN_FILE = "admin-token"
DATABASE_FILE = "gateway.sqlite3"


@dataclass(frozen=True)
class GatewaySettings:
    """Everything `create_app` needs; immutable so it can be shared by every component."""

    data_dir: Path = field(default_factory=lambda: Path(DEFAULT_DATA_DIR))
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    redis_url: str | None = None
    tenant_name: str = DEFAULT_TENANT
    admin_email: str = DEFAULT_ADMIN_EMAIL
    # Given by TFY_GATEWAY_ADMIN_TOKEN: used instead of a generated admin token (never written to disk).
    admin_token: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    # How often to look for writes by other processes (the offline `users`/`tokens` CLI); 0 = never.
    watch_interval: float = 1.0

    @property
    def database_path(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def admin_token_path(self) -> Path:
        return self.data_dir / ADMIN_TOKEN_FILE

    def __repr__(self) -> str:
        # The admin token must never end up in a log line through a repr.
        token = "<set>" if self.admin_token else None
        return (
            f"GatewaySettings(data_dir={str(self.data_dir)!r}, host={self.host!r}, port={self.port}, "
            f"redis_url={'<set>' if self.redis_url else None}, tenant_name={self.tenant_name!r}, "
            f"admin_email={self.admin_email!r}, admin_token={token})"
        )
