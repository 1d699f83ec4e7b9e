"""`BatchRunner`: executes the stored batches, as many lines at once as `batch_concurrency` allows.

Each unfinished batch is held by one process through a lease in the store (`claimed_by`,
`claimed_until`, renewed while it runs), so replicas sharing a database never run a batch twice and
a batch whose process died is taken over once its lease ends; a process that stops cleanly hands its
batches back at once. Every finished line is stored as it ends, so a restarted gateway resumes a batch
with the lines not yet done (a line that was in flight when the process stopped runs again).

A line the limits refuse with a 429 that says when to retry (`Retry-After`: a rate limit, a budget
that resets) waits that long (at most `batch_retry_max_wait_s` between tries) and runs again, for as
long as the batch's completion window lasts; a refusal that will never pass (no Retry-After) is that
line's answer. Each try is a request of its own in the request logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, ParamSpec, TypeVar

from tfy_gateway.gateway.batches.execute import run_line
from tfy_gateway.gateway.batches.jsonl import BATCH_URLS, InputFileError, RequestLine, for_endpoint, parse
from tfy_gateway.gateway.batches.objects import (
    ACTIVE,
    answered_line,
    moved,
    new_id,
    unrun_line,
    usage_of,
    validation_errors,
)
from tfy_gateway.gateway.batches.records import BatchRecords, BatchRow, FileRow, LineResult
from tfy_gateway.gateway.data_plane.endpoints import ENDPOINTS
from tfy_gateway.gateway.data_plane.runtime import DataPlane

logger = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


class BatchRunner:
    """Finds runnable batches (at once when told, else every `batch_poll_s`) and runs each in a task."""

    def __init__(self, plane: DataPlane, records: BatchRecords, *, clock: Callable[[], float] = time.time) -> None:
        self.plane = plane
        self.records = records
        self.clock = clock
        self.worker = secrets.token_hex(8)  # this process's name in the leases
        self.slots = asyncio.Semaphore(plane.settings.batch_concurrency)
        self._wake = asyncio.Event()
        self._jobs: dict[str, _Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, plane: DataPlane) -> AsyncIterator[BatchRunner]:
        runner = cls(plane, BatchRecords(plane.state.store))
        finder = asyncio.create_task(runner._find_loop())
        try:
            yield runner
        finally:
            finder.cancel()
            tasks = list(runner._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(finder, *tasks, return_exceptions=True)
            for batch_id in list(runner._jobs):
                await runner.store(runner.records.release, batch_id, runner.worker)

    async def store(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call a records method in the store's worker thread (type-checked against its signature)."""
        return await self.records.store.run(partial(function, *args, **kwargs))

    def wake(self) -> None:
        """Look for batches now (one was created, or cancelled)."""
        self._wake.set()

    def cancel(self, batch_id: str) -> None:
        """The batch was moved to cancelling: stop starting its lines (it ends once they end)."""
        job = self._jobs.get(batch_id)
        if job is not None:
            job.stop("cancelled")
        self.wake()

    async def _find_loop(self) -> None:
        poll_s = self.plane.settings.batch_poll_s
        while True:
            self._wake.clear()
            try:
                await self._pick_up()
            except Exception:
                logger.exception("the batch runner could not look for batches")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_s)

    async def _pick_up(self) -> None:
        now = self.clock()
        lease = self.plane.settings.batch_lease_s
        for batch_id in await self.store(self.records.runnable, ACTIVE, self.worker, now):
            if batch_id in self._tasks:
                continue
            if await self.store(self.records.claim, batch_id, self.worker, now, now + lease):
                job = _Job(self, batch_id)
                self._jobs[batch_id] = job
                self._tasks[batch_id] = asyncio.create_task(self._run(job))

    async def _run(self, job: _Job) -> None:
        try:
            await job.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("batch %s failed in the gateway", job.batch_id)
            await job.fail_internally(exc)
        self._tasks.pop(job.batch_id, None)
        self._jobs.pop(job.batch_id, None)
        await self.store(self.records.release, job.batch_id, self.worker)


class _Job:
    """One batch run by this process, from wherever it was to its end (or until this process stops)."""

    def __init__(self, runner: BatchRunner, batch_id: str) -> None:
        self.runner = runner
        self.batch_id = batch_id
        self.reason: str | None = None  # why no more lines start: cancelled, expired, lost
        self.expires_at = float("inf")  # the batch's, as last read
        self._stopped = asyncio.Event()

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._stopped.set()

    async def _row(self) -> BatchRow | None:
        return await self.runner.store(self.runner.records.batch, self.batch_id)

    async def run(self) -> None:
        row = await self._row()
        if row is None or row.status not in ACTIVE:
            return
        self.expires_at = float(row.body["expires_at"])
        requests, problems = await self._requests(row)
        if problems:
            if row.status == "validating":
                await self._finish(row, "failed", [], errors=validation_errors(problems))
            else:  # the input file was deleted under a running batch
                await self._finish(row, "failed", requests, errors=validation_errors(problems))
            return
        if row.status == "validating":
            counts = {"total": len(requests), "completed": 0, "failed": 0}
            body = moved(row.body, "in_progress", self._now(), request_counts=counts)
            await self.runner.store(
                self.runner.records.update_batch, self.batch_id, "in_progress", body, ("validating",)
            )
            row = await self._row()
            if row is None:
                return
        if row.status == "in_progress":
            await self._execute(row, requests)
            if self.reason == "lost":
                return
            row = await self._row()
            if row is None:
                return
        if row.status == "cancelling" or self.reason == "cancelled":
            await self._finish(row, "cancelled", requests)
        elif self.reason == "expired":
            await self._expire(row, requests)
        else:
            if row.status != "finalizing":
                body = moved(row.body, "finalizing", self._now())
                await self.runner.store(
                    self.runner.records.update_batch, self.batch_id, "finalizing", body, ("in_progress",)
                )
            await self._finish(row, "completed", requests)

    async def _requests(self, row: BatchRow) -> tuple[list[RequestLine], list[str]]:
        file_id = row.body["input_file_id"]
        content = await self.runner.store(self.runner.records.content, row.owner, file_id)
        if content is None:
            return [], [f"the input file {file_id} no longer exists"]
        try:
            requests = parse(content)
        except InputFileError as exc:
            return [], exc.problems
        return requests, for_endpoint(requests, row.body["endpoint"])

    def _now(self) -> int:
        return int(self.runner.clock())

    def _expired(self) -> bool:
        return self.runner.clock() >= self.expires_at

    async def _execute(self, row: BatchRow, requests: list[RequestLine]) -> None:
        runner = self.runner
        done = await runner.store(runner.records.done_lines, self.batch_id)
        keeper = asyncio.create_task(self._keep(row))
        running: set[asyncio.Task[None]] = set()
        try:
            for request in requests:
                if request.number in done:
                    continue
                await runner.slots.acquire()
                if self._expired():
                    self.stop("expired")
                if self._stopped.is_set():
                    runner.slots.release()
                    break
                task = asyncio.create_task(self._line(row, request))
                running.add(task)
                task.add_done_callback(running.discard)
                # Released when the line ends, however: also if it is cancelled before it starts.
                task.add_done_callback(lambda _: runner.slots.release())
            while running:
                await asyncio.gather(*running)
        finally:
            keeper.cancel()
            for task in running:
                task.cancel()
            await asyncio.gather(keeper, *running, return_exceptions=True)

    async def _keep(self, row: BatchRow) -> None:
        """Renew the lease; notice a cancel made by another process, and the end of the window."""
        runner = self.runner
        lease = runner.plane.settings.batch_lease_s
        while True:
            await asyncio.sleep(lease / 3)
            now = runner.clock()
            if not await runner.store(runner.records.claim, self.batch_id, runner.worker, now, now + lease):
                self.stop("lost")
                return
            current = await self._row()
            if current is not None:
                self.expires_at = float(current.body["expires_at"])
            if current is None or current.status == "cancelling":
                self.stop("cancelled")
            elif self._expired():
                self.stop("expired")

    async def _line(self, row: BatchRow, request: RequestLine) -> None:
        result = await self._result(row, request)
        if result is not None:
            await self.runner.store(self.runner.records.add_results, self.batch_id, [result])

    async def _result(self, row: BatchRow, request: RequestLine) -> LineResult | None:
        """The line's answer; None when the batch stopped while the line waited for room in a limit
        (not run: an expired batch reports it, a cancelled one leaves it out)."""
        runner = self.runner
        endpoint = ENDPOINTS[BATCH_URLS[request.url]]
        while True:
            principal = runner.plane.config.current.identities.by_token_id(row.token_id)
            if principal is None:
                message = f"The token that created batch {self.batch_id} was revoked or expired: not run."
                return LineResult(request.number, True, unrun_line(request, "token_revoked", message))
            answer = await run_line(runner.plane, endpoint, principal, request.body, self.batch_id)
            wait = answer.retry_after_s if answer.status == 429 else None
            if wait is None or runner.clock() + wait >= self.expires_at:
                failed, text = answered_line(request, answer)
                return LineResult(request.number, failed, text)
            pause = min(max(wait, 0.05), runner.plane.settings.batch_retry_max_wait_s)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), pause)
            if self._stopped.is_set():
                return None

    async def _expire(self, row: BatchRow, requests: list[RequestLine]) -> None:
        """Lines the window left unrun go to the error file as `batch_expired`, as OpenAI reports them."""
        runner = self.runner
        done = await runner.store(runner.records.done_lines, self.batch_id)
        window = row.body["completion_window"]
        message = f"Batch {self.batch_id} expired before this request ran (completion window {window})."
        unrun = [
            LineResult(r.number, True, unrun_line(r, "batch_expired", message))
            for r in requests
            if r.number not in done
        ]
        await runner.store(runner.records.add_results, self.batch_id, unrun)
        await self._finish(row, "expired", requests)

    async def _finish(
        self, row: BatchRow, status: str, requests: list[RequestLine], *, errors: dict[str, Any] | None = None
    ) -> None:
        """Fold the line results into the output and error files and end the batch in `status`."""
        runner = self.runner
        results = await runner.store(runner.records.results, self.batch_id)
        now = self._now()
        changes: dict[str, Any] = {
            "request_counts": {
                "total": len(requests),
                "completed": sum(not r.failed for r in results),
                "failed": sum(r.failed for r in results),
            }
        }
        if errors is not None:
            changes["errors"] = errors
        changes["usage"] = usage_of([r.result for r in results if not r.failed])
        files = []
        for failed, kind, field in ((False, "output", "output_file_id"), (True, "error", "error_file_id")):
            lines = [r.result for r in results if r.failed == failed]
            if lines:
                content = ("\n".join(lines) + "\n").encode()
                name = f"batch_{self.batch_id}_{kind}.jsonl"
                file = FileRow(new_id("file-"), row.owner, "batch_output", name, len(content), now)
                files.append((file, content))
                changes[field] = file.id
        latest = await self._row()
        body = moved((latest or row).body, status, now, **changes)
        await runner.store(runner.records.finish, self.batch_id, status, body, files)

    async def fail_internally(self, exc: Exception) -> None:
        """A batch the gateway could not run (a bug, a store failure) fails instead of retrying forever."""
        row = await self._row()
        if row is None or row.status not in ACTIVE:
            return
        message = f"The gateway could not run this batch ({type(exc).__name__}); see its log."
        errors = {"object": "list", "data": [{"code": "server_error", "message": message, "param": None, "line": None}]}
        with contextlib.suppress(Exception):
            await self._finish(row, "failed", [], errors=errors)
