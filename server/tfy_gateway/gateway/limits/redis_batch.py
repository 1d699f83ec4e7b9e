"""`ScriptBatcher`: the limit scripts of concurrent requests travel to Redis in one pipeline.

Every request makes one reserve and one settle call; at concurrency, paying a round trip and the
client's per-call overhead for each is what limits throughput. Calls submitted while a pipeline is in
flight wait for the next one, which carries all of them (EVALSHA per call, no MULTI: each script is
still atomic on its own, as it is when sent alone). One pipeline is in flight at a time; a lone
request waits for nothing but its own round trip. Pipelines go over the link's `Channel` (one
connection, no pool and pipeline objects per call), through the same `RedisLink.call` (timeout,
breaker) as single calls: a pipeline that fails or times out fails every call in it with
`StateStoreDown`. A Redis that lost the scripts (restarted, SCRIPT FLUSH) answers NOSCRIPT: the
next pipeline loads the scripts named and carries those calls again.

Each caller waits at most the link's timeout from the moment it called, whether its call is still
queued behind a pipeline in flight or in one (a frozen Redis once made a queued call wait for the
pipeline ahead of it and then its own: twice the timeout). No timer per call: callers queue in the
order of their deadlines, so a pipeline is given until the deadline of its first caller, and a
caller whose deadline passed in the queue fails without being sent. A call that was sent and ended
without its reply (the pipeline timed out or failed, or its caller was cancelled) may still run in
Redis later: its `on_lost` callback is told, so the caller can undo what the script may have done
once Redis answers again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from tfy_gateway.gateway.shared.redis import RedisLink, StateStoreDown

MAX_BATCH = 256


class _Call:
    __slots__ = ("command", "deadline", "done", "operation", "script", "sent")

    def __init__(
        self,
        operation: str,
        script: AsyncScript,
        command: tuple[Any, ...],
        done: asyncio.Future[Any],
        deadline: float,
    ) -> None:
        self.operation = operation
        self.script = script
        self.command = command  # EVALSHA sha numkeys keys... args...
        self.done = done
        self.deadline = deadline  # on the loop's clock: when its caller gives up
        self.sent = False  # its command went out: the script may have run, whatever the caller saw


class ScriptBatcher:
    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self._pending: list[_Call] = []
        self._flushing: asyncio.Task[None] | None = None
        self.round_trips = 0  # pipelines sent to Redis, for tests and debugging

    async def call(
        self,
        operation: str,
        script: AsyncScript,
        keys: list[str],
        args: list[str | int],
        *,
        on_lost: Callable[[], None] | None = None,
    ) -> Any:
        """The script's reply, within the link's timeout; `StateStoreDown` otherwise. `on_lost`: called
        when the call ends without its reply after its command was sent."""
        loop = asyncio.get_running_loop()
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        call = _Call(operation, script, command, loop.create_future(), loop.time() + self.link.timeout_s)
        self._pending.append(call)
        if self._flushing is None or self._flushing.done():
            self._flushing = loop.create_task(self._flush())
        try:
            return await call.done
        except BaseException:  # failed, timed out, or the caller was cancelled
            if not call.done.done():
                call.done.cancel()  # not sent yet: it never will be
            if call.sent and on_lost is not None:
                on_lost()
            raise

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            now = loop.time()
            for call in batch:
                if call.deadline <= now and not call.done.done():  # its caller's time ran out in the queue
                    call.done.set_exception(StateStoreDown(f"the shared state store ({self.link.shown}) is slow"))
            batch = [call for call in batch if not call.done.done()]  # callers may have gone
            if not batch:
                continue
            # Metrics and logs name the batch's operation ("reserve" when it carries any admission).
            operation = next((c.operation for c in batch if c.operation == "reserve"), batch[0].operation)
            # The pipeline ends by its first caller's deadline (callers arrive in deadline order), so
            # a caller queued behind it never waits past its own.
            left = batch[0].deadline - now
            try:
                replies = await self.link.call(operation, lambda b=batch: self._send(b), timeout_s=left)  # type: ignore[misc]
            except BaseException as exc:
                for call in batch:
                    if not call.done.done():
                        call.done.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for call, reply in zip(batch, replies, strict=True):
                if call.done.done():
                    continue
                if isinstance(reply, Exception):
                    call.done.set_exception(reply)
                else:
                    call.done.set_result(reply)

    async def _send(self, batch: list[_Call]) -> list[Any]:
        self.round_trips += 1
        channel = self.link.channel
        for call in batch:
            call.sent = True
        replies = await channel.exchange([call.command for call in batch])
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:  # load the scripts named, then send those calls again: one more round trip
            sources = {batch[i].script.sha: batch[i].script.script for i in missing}
            loads = [("SCRIPT", "LOAD", source) for source in sources.values()]
            again = await channel.exchange([*loads, *(batch[i].command for i in missing)])
            for reply in again[: len(loads)]:
                if isinstance(reply, Exception):
                    raise reply
            for i, reply in zip(missing, again[len(loads) :], strict=True):
                replies[i] = reply
        return replies
