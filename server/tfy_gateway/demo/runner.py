"""Run the demo: start the local stack, drive the MCP server through the steps, summarise, clean up."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from mcp import Client, StdioServerParameters
from tfy_gateway.demo.handoff import print_handoff
from tfy_gateway.demo.output import Printer
from tfy_gateway.demo.processes import LocalStack, StartupError, start_stack
from tfy_gateway.demo.session import DemoSession, StepFailed
from tfy_gateway.demo.steps import STEPS

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


@dataclass
class Outcome:
    title: str
    status: str  # "ok", "failed" or "skipped"
    seconds: float = 0.0
    reason: str = ""


def run_demo(*, keep: bool = False, data_dir: Path | None = None, out: Printer | None = None) -> int:
    """The whole demo; returns the exit code. Processes are stopped on every exit unless `keep`."""
    out = out or Printer()
    started = time.perf_counter()
    temporary = data_dir is None
    directory = Path(tempfile.mkdtemp(prefix="tfy-gateway-demo-")) if data_dir is None else data_dir.resolve()
    stack: LocalStack | None = None
    outcomes: list[Outcome] = []
    interrupted = completed = False
    with _sigterm_as_interrupt():
        try:
            out.title("tfy-gateway demo: an assistant configures an AI gateway through the MCP server")
            out.line("Starting a fake LLM provider and a local gateway (offline, nothing leaves this machine)...")
            stack = start_stack(directory, temporary=temporary)
            out.hide(stack.admin_token)
            _print_stack(out, stack)
            outcomes = asyncio.run(_session(out, stack))
            completed = True
        except (StartupError, OSError) as exc:
            out.failed(f"could not start the local stack: {exc}")
            return EXIT_FAILED
        except Exception as exc:  # e.g. the MCP server subprocess did not start
            out.failed(f"the MCP session failed: {type(exc).__name__}: {exc}")
            return EXIT_FAILED
        except KeyboardInterrupt:
            interrupted = True
            out.line()
            out.failed("interrupted")
        finally:
            kept = keep and completed
            if stack is not None and not kept:
                stack.stop()
            if temporary and not kept:
                shutil.rmtree(directory, ignore_errors=True)
    if interrupted:
        if stack is not None:
            out.line("Stopped the fake provider and the gateway.")
        return EXIT_INTERRUPTED
    assert stack is not None
    failed = _summary(out, outcomes, time.perf_counter() - started)
    if keep:
        print_handoff(out, stack)
    else:
        pids = f"pids {stack.fake_provider.pid}, {stack.gateway.pid}"
        removed = "; removed the temporary data" if temporary else f"; data kept in {stack.data_dir}"
        out.line(f"Stopped the fake provider and the gateway ({pids}){removed}.")
        out.line("Run `tfy-gateway demo --keep` to keep them running and try the openai SDK against them.")
    return EXIT_FAILED if failed else EXIT_OK


async def _session(out: Printer, stack: LocalStack) -> list[Outcome]:
    """One MCP server subprocess over stdio, driven through every step in order."""
    env = dict(stack.mcp_env)
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "tfy_gateway", "mcp", "--log-level", "WARNING"], env=env
    )
    out.line(f"  MCP server     {sys.executable} -m tfy_gateway mcp (stdio; TFY_BASE_URL={stack.gateway.url})")
    outcomes = [Outcome(step.title, "skipped") for step in STEPS]
    async with Client(server) as client:
        session = DemoSession(client, out, stack.fake_provider.url)
        for index, step in enumerate(STEPS):
            out.heading(index + 1, len(STEPS), step.title)
            began = time.perf_counter()
            outcome = outcomes[index]
            try:
                await step.run(session)
            except StepFailed as exc:
                outcome.status, outcome.reason = "failed", str(exc)
            except Exception as exc:  # the MCP session itself broke: report it like a failed step
                outcome.status, outcome.reason = "failed", f"{type(exc).__name__}: {exc}"
            else:
                outcome.status = "ok"
            outcome.seconds = time.perf_counter() - began
            if outcome.status == "failed":
                out.failed(outcome.reason)
                break
    return outcomes


def _print_stack(out: Printer, stack: LocalStack) -> None:
    out.line(f"  fake provider  {stack.fake_provider.url}  (pid {stack.fake_provider.pid})")
    out.line(f"  gateway        {stack.gateway.url}  (pid {stack.gateway.pid}; data in {stack.data_dir})")


def _summary(out: Printer, outcomes: list[Outcome], elapsed: float) -> bool:
    """The table at the end; True when a step failed."""
    out.line()
    out.title("Summary")
    rows = [
        (f"{i + 1}. {o.title}", o.status, f"{o.seconds:.2f} s" if o.status != "skipped" else "-")
        for i, o in enumerate(outcomes)
    ]
    out.table(("step", "result", "time"), rows, indent=2)
    failed = [o for o in outcomes if o.status != "ok"]
    if not outcomes:
        out.failed("no step ran")
        return True
    if failed:
        first = next((o for o in failed if o.status == "failed"), failed[0])
        out.failed(f"{len(failed)} of {len(outcomes)} steps did not pass; first failure: {first.title}: {first.reason}")
    else:
        out.ok(f"all {len(outcomes)} steps passed in {elapsed:.1f} s")
    return bool(failed)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the demo like Ctrl-C does, so the bundled processes are stopped too."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
