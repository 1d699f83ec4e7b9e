"""A fake provider per test: a real HTTP server on a free loopback port, stopped at teardown."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tfy_gateway.fakeprovider import running


@pytest.fixture
def fake_url() -> Iterator[str]:
    with running() as base_url:
        yield base_url


@pytest.fixture
def http(fake_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake_url, timeout=10.0) as client:
        yield client
