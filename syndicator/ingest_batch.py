"""Changed feeds stored together: one hand-off to the storage thread for the polls that finish
within a few milliseconds of each other, and one write transaction for all of them.

A changed feed's storing (poll_ingest.py) was a hand-off to the storage thread and a write
transaction of its own: BEGIN IMMEDIATE, the audit chain's head read, the stamp, COMMIT. With
2,000 feeds and 400 changes a minute that was a quarter of the daemon's steady CPU
(docs/benchmarks.md, issue 11). Polls finishing close together now wait up to `WAIT_S` for
each other and are stored in one call, in one transaction. Each keeps its own outcome:

- each ingest runs in a SAVEPOINT of the batch's transaction (Storage.savepoint): one that
  fails is rolled back alone and its poll is recorded as failed, as before; the others
  commit; its stamp check reads inside the transaction, so no other writer can slip in
  between the check and the write;
- a poll cancelled (daemon stop, reload) before its batch runs is left out: nothing of it is
  stored, and the next poll fetches it again (its validators were never saved);
- the whole batch fails only when the transaction itself does (the write lock not had within
  the busy timeout, the commit refused): every poll in it is then recorded as failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from syndicator.storage import Storage, aio

# How long a finished poll waits for others to share its transaction. Polls finish at random
# moments (each source has its own schedule), a few a second with 2,000 feeds; 50 ms adds no
# visible delay to a new article's preview and gathers them (measured: docs/benchmarks.md).
WAIT_S = 0.05
# A batch this big is sent at once: one transaction stays short (the SQLite write lock).
MAX_ITEMS = 50


class IngestBatch:
    """Gathers calls of one function (the poller's `_ingest`) and runs them together on the
    storage thread, in one write transaction (`storage.batch`), each in a savepoint."""

    def __init__(self, storage: Storage, run: Callable[..., Any]) -> None:
        self.storage = storage
        self.run = run
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, *args: Any) -> Any:
        """`run(*args)` on the storage thread with others; its result, or its exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((args, future))
        if len(self._pending) >= MAX_ITEMS:
            self._send()
        elif self._timer is None:
            self._timer = loop.call_later(WAIT_S, self._send)
        return await future

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        items, self._pending = self._pending, []
        if items:
            task = asyncio.get_running_loop().create_task(self._flush(items))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, items: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        live = [(args, future) for args, future in items if not future.cancelled()]
        if not live:
            return
        try:
            outcomes = await aio.call(self._run_all, [args for args, _ in live])
        except asyncio.CancelledError:  # the loop is going away: so are the polls waiting
            for _, future in live:
                future.cancel()
            raise
        except Exception as exc:  # the transaction itself failed: every poll in it did
            for _, future in live:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), (ok, value) in zip(live, outcomes, strict=True):
            if future.done():  # cancelled while its batch ran: its answer is dropped
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _run_all(self, calls: list[tuple[Any, ...]]) -> list[tuple[bool, Any]]:
        """On the storage thread: every call in one transaction, each in a savepoint."""
        outcomes: list[tuple[bool, Any]] = []
        with self.storage.batch():
            for args in calls:
                try:
                    with self.storage.savepoint():
                        outcomes.append((True, self.run(*args)))
                except Exception as exc:  # rolled back to its savepoint: this call alone
                    outcomes.append((False, exc))
        return outcomes

    async def close(self) -> None:
        """Send what is waiting and wait for the batches in flight (a stop or a reload)."""
        self._send()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
