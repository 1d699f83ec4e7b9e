"""What `--keep` prints: how to use the still-running gateway from the openai SDK and an MCP client.

The admin token is referred to by its file, never printed: a terminal transcript is not a secret store.
"""

from __future__ import annotations

import shlex

from tfy_gateway.demo import scenario
from tfy_gateway.demo.output import Printer
from tfy_gateway.demo.processes import LocalStack


def openai_snippet(stack: LocalStack) -> str:
    """Five lines of Python that call the kept gateway through the routing rule the demo applied."""
    return "\n".join(
        [
            "from pathlib import Path",
            "from openai import OpenAI",
            f'client = OpenAI(base_url="{stack.gateway.url}/api/llm", '
            f'api_key=Path("{stack.token_path}").read_text().strip())',
            f'reply = client.chat.completions.create(model="{scenario.ALIAS}", '
            'messages=[{"role": "user", "content": "Hello"}], max_tokens=16)',
            "print(reply.choices[0].message.content)",
        ]
    )


def print_handoff(out: Printer, stack: LocalStack) -> None:
    token = shlex.quote(str(stack.token_path))
    out.line()
    out.title("Still running (--keep)")
    out.line(f"  gateway        {stack.gateway.url}  (pid {stack.gateway.pid})")
    out.line(f"  fake provider  {stack.fake_provider.url}  (pid {stack.fake_provider.pid})")
    out.line(f"  admin token    in {stack.token_path} (mode 0600; not printed)")
    out.line(f"  data and logs  {stack.data_dir}")
    out.line()
    out.title("Call it with the openai SDK (OpenAI-compatible base URL: " + stack.gateway.url + "/api/llm):")
    out.block(openai_snippet(stack), prefix="    ")
    out.line()
    out.title("Point the MCP server, or the platform's tfy CLI, at it:")
    out.line(f"    TFY_BASE_URL={stack.gateway.url} TFY_API_KEY=$(cat {token}) tfy-gateway mcp")
    out.line(f"    TFY_HOST={stack.gateway.url} TFY_API_KEY=$(cat {token}) tfy apply -f FILE --dry-run --show-diff")
    out.line()
    out.title("Stop them:")
    out.line(f"    kill {stack.gateway.pid} {stack.fake_provider.pid}")
