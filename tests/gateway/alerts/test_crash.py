"""A gateway process killed with SIGKILL loses no alert and repeats none: the next outbox resumes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.gateway.alerts.conftest import OutboxFactory
from tests.gateway.alerts.receivers import Receiver
from tests.helpers import code_under_test_env

# Runs in a child process: one alert delivered to the live receiver, one pending (its receiver is down),
# then "ready", then it waits to be killed.
CHILD = """
import asyncio, json, sys
from pathlib import Path
from tfy_gateway.gateway.alerts import Alert, AlertOutbox, RetryPolicy

async def main():
    data_dir, environ = Path(sys.argv[1]), json.loads(sys.argv[2])
    outbox = AlertOutbox(data_dir, retry=RetryPolicy(base_s=3600, max_s=3600), environ=environ)
    await outbox.start()
    for threshold, channel in ((80, "live"), (90, "down")):
        target = {"type": "slack-webhook", "notification_channel": channel}
        outbox.submit(Alert("cfg", "rule", "", "month 2026-11", threshold, 1, 1, "cost_per_month", 1.8e9, (target,)))
    await outbox.settled()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_killed_process_resumes_pending_alerts_and_repeats_no_delivered_one(
    make_outbox: OutboxFactory, receiver: Receiver, environ: dict[str, str], tmp_path: Path
) -> None:
    down = Receiver()
    channels = {
        "TFY_SECRET_NOTIFY_LIVE_WEBHOOK_URL": receiver.url("/slack/hook/live"),
        "TFY_SECRET_NOTIFY_DOWN_WEBHOOK_URL": down.url("/slack/hook/down"),
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(tmp_path / "data"),
        json.dumps(channels),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, **code_under_test_env()},
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 120)  # a hang guard, not a speed assertion
        assert line == b"ready\n"
        assert [r.path for r in receiver.requests] == ["/slack/hook/live"]
    finally:
        child.kill()  # SIGKILL: no stop(), no flush
        await child.wait()

    environ.update(channels)
    await down.start()
    try:
        outbox = make_outbox()  # the manual clock starts in 2027, past the child's retry time
        await outbox.start()
        await outbox.settled()
        assert [r.path for r in down.requests] == ["/slack/hook/down"]
        assert [r.path for r in receiver.requests] == ["/slack/hook/live"]
    finally:
        await down.stop()
