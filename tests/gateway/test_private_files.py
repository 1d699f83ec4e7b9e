"""The data dir a gateway creates is 0700 and its databases 0600 (they hold token hashes and logs)."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.helpers import GatewayProcess


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_dir_and_its_databases_are_private(tmp_path: Path) -> None:
    (tmp_path / "fresh").mkdir()
    gateway = GatewayProcess(tmp_path / "fresh" / "data")
    gateway.start()
    try:
        data_dir = gateway.data_dir
        assert mode(data_dir) == 0o700
        databases = sorted(p for p in data_dir.iterdir() if ".sqlite3" in p.name)
        assert {p.name for p in databases} >= {"gateway.sqlite3", "logs.sqlite3"}
        for path in databases:  # -wal and -shm files included
            assert mode(path) == 0o600, f"{path.name} is {oct(mode(path))}"
    finally:
        gateway.stop()
