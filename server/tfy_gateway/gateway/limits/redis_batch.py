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

Reservations and settlements (`op` calls) that follow each other in a pipeline travel as one call of
the batch script (`redis_scripts.BATCH`), which runs them in order and reads each counter once for
all of them: in Redis, most of a reservation's cost was reading and parsing its counters, which
concurrent requests of one plan share. Each still gets its own reply, or its own error. An operation's
`Shared` part (a reservation's counter keys and their arguments, the same for every request of a
plan) is sent once per batch call: a later operation with the same part names where it is. An
operation alone in its pipeline goes as a call of its own script (`alone`), which runs it the same
way without the batch's bookkeeping (at one operation a call, that cost more than it saved).

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
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from tfy_gateway.gateway.shared.redis import RedisLink, StateStoreDown

MAX_BATCH = 256
MAX_OPERATIONS = 32
"""Operations per call of the batch script: a script holds Redis for its whole run (other clients wait),
so a long pipeline's operations are cut into several calls."""


class Shared(NamedTuple):
    """Keys and arguments an operation shares with others (compared by identity): they go before its
    own keys and arguments, once per batch call; a later operation sharing them sends, instead, their
    offsets in KEYS and ARGV (op kind in upper case)."""

    keys: list[str]
    args: list[str | int]


class _Call:
    __slots__ = ("args", "deadline", "done", "keys", "op", "operation", "script", "sent", "shared")

    def __init__(
        self,
        operation: str,
        script: AsyncScript,
        keys: list[str],
        args: list[str | int],
        op: str | None,
        shared: Shared | None,
        done: asyncio.Future[Any],
        deadline: float,
    ) -> None:
        self.operation = operation
        self.script = script
        self.keys = keys
        self.args = args
        self.op = op  # an operation of the batch script (`script`), or None: a script call of its own
        self.shared = shared
        self.done = done
        self.deadline = deadline  # on the loop's clock: when its caller gives up
        self.sent = False  # its command went out: the script may have run, whatever the caller saw


class _Command(NamedTuple):
    """One EVALSHA of a pipeline, and the calls it carries (several: operations of the batch script)."""

    script: AsyncScript
    calls: list[_Call]
    command: tuple[Any, ...]  # EVALSHA sha numkeys keys... args...
    batched: bool  # a call of the batch script: a reply per call


def _commands(batch: list[_Call], alone: Mapping[str, AsyncScript]) -> list[_Command]:
    """The pipeline's commands: each run of consecutive operations of one batch script (at most
    `MAX_OPERATIONS`) as one call of it, per operation its kind, key count and argument count, then
    its arguments; an operation alone as a call of its own script (`alone[op]`), any other call as
    its own."""
    commands: list[_Command] = []
    start = 0
    while start < len(batch):
        call = batch[start]
        end = start + 1
        if call.op is not None:
            while end < len(batch) and end - start < MAX_OPERATIONS and _joins(batch[end], call):
                end += 1
        if end == start + 1 and (call.op is None or call.op in alone):
            script = call.script if call.op is None else alone[call.op]
            shared = call.shared
            command = (
                ("EVALSHA", script.sha, len(call.keys), *call.keys, *call.args)
                if shared is None
                else ("EVALSHA", script.sha, len(shared.keys) + len(call.keys), *shared.keys, *call.keys,
                      *shared.args, *call.args)
            )  # fmt: skip
            commands.append(_Command(script, [call], command, False))
            start = end
            continue
        calls = batch[start:end]
        keys: list[str] = []
        args: list[str | int] = []
        sent: dict[int, tuple[int, int]] = {}  # id(shared) -> its offsets in keys and args
        for each in calls:
            op, shared = each.op, each.shared
            if shared is None:
                args += (op, len(each.keys), len(each.args))  # type: ignore[arg-type]  # op is set
            elif (offsets := sent.get(id(shared))) is None:
                sent[id(shared)] = (len(keys), len(args) + 3)
                keys += shared.keys
                args += (op, len(shared.keys) + len(each.keys), len(shared.args) + len(each.args))  # type: ignore[arg-type]
                args += shared.args
            else:
                args += (op.upper(), len(each.keys), len(each.args) + 2, *offsets)  # type: ignore[union-attr]
            keys += each.keys
            args += each.args
        command = ("EVALSHA", call.script.sha, len(keys), *keys, *args)
        commands.append(_Command(call.script, calls, command, True))
        start = end
    return commands


def _joins(call: _Call, first: _Call) -> bool:
    """Whether `call` travels in the same batch-script call as `first`."""
    return call.op is not None and call.script is first.script


class ScriptBatcher:
    def __init__(self, link: RedisLink, alone: Mapping[str, AsyncScript] | None = None) -> None:
        self.link = link
        self.alone = alone or {}  # per operation kind of the batch script, the script running one
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
        op: str | None = None,
        shared: Shared | None = None,
    ) -> Any:
        """The script's reply, within the link's timeout; `StateStoreDown` otherwise. `on_lost`: called
        when the call ends without its reply after its command was sent. `op`: the call is that
        operation of `script`, the batch script, merged with its neighbours in the pipeline, its
        `shared` keys and arguments (if any) before `keys` and `args`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.link.timeout_s
        call = _Call(operation, script, keys, args, op, shared, loop.create_future(), deadline)
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
        """The replies of `batch`'s calls, in order."""
        self.round_trips += 1
        channel = self.link.channel
        for call in batch:
            call.sent = True
        commands = _commands(batch, self.alone)
        replies = await channel.exchange([command.command for command in commands])
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:  # load the scripts named, then send those commands again: one more round trip
            sources = {commands[i].script.sha: commands[i].script.script for i in missing}
            loads = [("SCRIPT", "LOAD", source) for source in sources.values()]
            again = await channel.exchange([*loads, *(commands[i].command for i in missing)])
            for reply in again[: len(loads)]:
                if isinstance(reply, Exception):
                    raise reply
            for i, reply in zip(missing, again[len(loads) :], strict=True):
                replies[i] = reply
        answers: list[Any] = []
        for command, reply in zip(commands, replies, strict=True):
            if not command.batched:
                answers.append(reply)
            elif isinstance(reply, Exception):  # the batch script failed as a whole
                answers += [reply] * len(command.calls)
            else:
                answers += reply
        return answers
