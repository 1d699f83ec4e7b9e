from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import EXAMPLES, GatewayProcess


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    """A real gateway subprocess with a fresh data dir, stopped at teardown."""
    server = GatewayProcess(tmp_path / "gateway-data")
    server.start()
    try:
        yield server
    finally:
        server.stop()
