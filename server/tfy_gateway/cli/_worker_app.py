"""The app factory of each process that `serve --workers N` (or `--server granian|aiohttp`) starts.

A worker process imports the whole gateway before it serves, as `serve` does: it imports it the way a
command does (`main.command_imports`: the collector paused, then the objects frozen; the code of the
dataclasses kept from the last start), then builds the app from the settings handed over in the
environment (`app_from_environment`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfy_gateway.cli.main import command_imports

if TYPE_CHECKING:
    from starlette.applications import Starlette


def app() -> Starlette:
    """The worker's app (an import-string factory for uvicorn and granian)."""
    with command_imports("serve-worker"):
        from tfy_gateway.gateway.app import app_from_environment
    return app_from_environment()
