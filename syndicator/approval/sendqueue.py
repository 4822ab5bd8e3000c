"""One send queue per chat: at most one call per `interval`, 429s waited out, edits first.

Telegram allows about one message per second to a chat (api-notes 3.8), so a burst of new
articles must trickle out instead of provoking a 429 storm. Every send and edit to a chat goes
through its queue; answerCallbackQuery does not (it is not flood-limited and must be quick).
Jobs are coroutine factories that build their request when they run, so an edit queued behind
a burst still shows the latest state. A job may carry a key: a second job with the key of one
still waiting is dropped (the waiting one will render the newer state anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from telegram.error import BadRequest, NetworkError, RetryAfter

log = structlog.get_logger("syndicator.approval.sendqueue")

URGENT, NORMAL, BULK = 0, 1, 2  # edits after a tap, replies and alerts, new previews
MAX_RETRY_AFTER = 5  # 429s on one job before it is given up
MAX_NETWORK = 3  # network errors on one job before it is given up
Job = Callable[[], Awaitable[Any]]


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after may be an int or a timedelta (PTB 22 deprecation path)."""
    raw = getattr(exc, "_retry_after", None)
    if raw is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = exc.retry_after
    return raw.total_seconds() if isinstance(raw, timedelta) else float(raw)


class SendQueue:
    """Per-chat FIFO with three priorities, one worker task per chat."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.retry_after_seen = 0  # how many 429s the queue had to wait out
        self._queues: dict[int, asyncio.PriorityQueue[tuple[int, int, Job, str | None]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._waiting: set[str] = set()
        self._order = itertools.count()
        self._last: dict[int, float] = {}
        self._closed = False

    def submit(
        self, chat_id: int, job: Job, *, priority: int = NORMAL, key: str | None = None
    ) -> bool:
        """Queue `job` for `chat_id`; False when dropped (closed, or same key still waiting)."""
        if self._closed or (key is not None and key in self._waiting):
            return False
        if key is not None:
            self._waiting.add(key)
        queue = self._queues.setdefault(chat_id, asyncio.PriorityQueue())
        queue.put_nowait((priority, next(self._order), job, key))
        if chat_id not in self._workers or self._workers[chat_id].done():
            self._workers[chat_id] = asyncio.create_task(
                self._work(chat_id, queue), name=f"telegram-send-{chat_id}"
            )
        return True

    def pending(self) -> int:
        return sum(queue.qsize() for queue in self._queues.values())

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued job ran (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(q.empty() for q in self._queues.values()) and all(
                q._unfinished_tasks == 0  # type: ignore[attr-defined]
                for q in self._queues.values()
            ):
                return
            await asyncio.sleep(0.02)

    async def close(self, drain_timeout: float = 5.0) -> None:
        """Send what is queued (within the timeout), then stop the workers."""
        await self.drain(drain_timeout)
        self._closed = True
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._workers.clear()

    async def _work(self, chat_id: int, queue: asyncio.PriorityQueue[Any]) -> None:
        while True:
            _, _, job, key = await queue.get()
            if key is not None:
                self._waiting.discard(key)
            try:
                await self._run(chat_id, job)
            except Exception:
                log.exception("telegram_send_failed", chat=chat_id)
            finally:
                queue.task_done()

    async def _run(self, chat_id: int, job: Job) -> Any:
        throttled = network = 0
        while True:
            wait = self._last.get(chat_id, 0.0) + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last[chat_id] = time.monotonic()
            try:
                return await job()
            except RetryAfter as exc:
                throttled += 1
                self.retry_after_seen += 1
                if throttled > MAX_RETRY_AFTER:
                    raise
                delay = retry_seconds(exc) + 0.1
                log.warning("telegram_retry_after", chat=chat_id, seconds=delay)
                await asyncio.sleep(delay)
            except BadRequest:
                raise  # permanent for this request: never retried (BadRequest is a NetworkError)
            except NetworkError:
                network += 1
                if network >= MAX_NETWORK:
                    raise
                await asyncio.sleep(min(10.0, 2.0**network))
