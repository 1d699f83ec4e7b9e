"""How tools are registered: the cleaned docstring is the description, annotations always explicit."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer
from mcp.types import ToolAnnotations


def add_tool(server: MCPServer, fn: Callable[..., Any], *, title: str, annotations: ToolAnnotations) -> None:
    server.add_tool(fn, title=title, description=inspect.cleandoc(fn.__doc__ or ""), annotations=annotations)
