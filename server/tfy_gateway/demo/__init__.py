"""`tfy-gateway demo`: a scripted assistant session, offline, through a real MCP client.

A fake provider and a local gateway run as subprocesses (`processes`); the MCP server runs as a
third, over stdio, configured only through TFY_BASE_URL/TFY_API_KEY like any other control plane.
`steps` walks the skill's workflow with the data in `scenario`; `output` prints it readably;
`handoff` tells a `--keep` user how to carry on.
"""

from tfy_gateway.demo.runner import run_demo

__all__ = ["run_demo"]
