"""One send queue per chat: within Telegram's flood limits, 429s waited out, edits first.

Telegram's limits (api-notes 3.8; python-telegram-bot wiki "Avoiding flood limits" and its
`constants.FloodLimit`: MESSAGES_PER_SECOND_PER_CHAT = 1, MESSAGES_PER_MINUTE_PER_GROUP = 20,
MESSAGES_PER_SECOND = 30): at most one call per `interval` to a chat; at most `group_limit`
new messages in any `group_window` to a group (negative chat id), counted as a sliding window
so a burst of 50 previews trickles out instead of provoking a 429 storm; at most 30 calls per
second overall. This is the pacing PTB's AIORateLimiter does, kept here without its extra
dependency because the queue also orders (edits before previews) and de-duplicates jobs.
A 429 is waited out for its `retry_after` and the job retried, as often as Telegram asks:
nothing is dropped. Every send and edit to a chat goes through its queue; answerCallbackQuery
does not (it is not flood-limited and must be quick).
A network error is retried only for idempotent jobs (edits): a send that timed out may have
been delivered, so its job must decide itself what to do (see unconfirmed.py).
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
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from telegram.error import BadRequest, NetworkError, RetryAfter

log = structlog.get_logger("syndicator.approval.sendqueue")

URGENT, NORMAL, BULK = 0, 1, 2  # edits after a tap, replies and alerts, new previews
MAX_NETWORK = 3  # network errors on one idempotent job before it is given up
OVERALL_PER_SECOND = 30
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

    def __init__(
        self, interval: float, *, group_limit: int = 20, group_window: float = 60.0,
        overall_per_second: int = OVERALL_PER_SECOND,
    ) -> None:  # fmt: skip
        self.interval = interval
        self.group_limit, self.group_window = group_limit, group_window
        self.overall_per_second = overall_per_second
        self.retry_after_seen = 0  # how many 429s the queue had to wait out
        self._sent: dict[int, deque[float]] = {}  # group chat -> times of its latest sends
        self._overall: deque[float] = deque()
        self._queues: dict[int, asyncio.PriorityQueue[tuple[int, int, Job, str | None, bool]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._waiting: set[str] = set()
        self._order = itertools.count()
        self._last: dict[int, float] = {}
        self._closed = False

    def submit(
        self, chat_id: int, job: Job, *, priority: int = NORMAL, key: str | None = None,
        idempotent: bool = False,
    ) -> bool:  # fmt: skip
        """Queue `job` for `chat_id`; False when dropped (closed, or same key still waiting).
        `idempotent` jobs (edits) are retried on network errors; others (sends) never are."""
        if self._closed or (key is not None and key in self._waiting):
            return False
        if key is not None:
            self._waiting.add(key)
        queue = self._queues.setdefault(chat_id, asyncio.PriorityQueue())
        queue.put_nowait((priority, next(self._order), job, key, idempotent))
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
            _, _, job, key, idempotent = await queue.get()
            if key is not None:
                self._waiting.discard(key)
            try:
                await self._run(chat_id, job, idempotent)
            except Exception:
                log.exception("telegram_send_failed", chat=chat_id)
            finally:
                queue.task_done()

    def _wait_for(self, chat_id: int, now: float, counts: bool) -> float:
        """Seconds until the next call to `chat_id` is within every limit (0: go now)."""
        wait = self._last.get(chat_id, 0.0) + self.interval - now
        overall = self._overall
        while overall and overall[0] <= now - 1.0:
            overall.popleft()
        if len(overall) >= self.overall_per_second:
            wait = max(wait, overall[0] + 1.0 - now)
        sent = self._sent.get(chat_id)
        if counts and sent is not None:
            while sent and sent[0] <= now - self.group_window:
                sent.popleft()
            if len(sent) >= self.group_limit:
                wait = max(wait, sent[0] + self.group_window - now)
        return wait

    def _note(self, chat_id: int, at: float, counts: bool) -> None:
        self._last[chat_id] = at
        self._overall.append(at)
        if counts and chat_id < 0:  # groups and supergroups have negative ids
            self._sent.setdefault(chat_id, deque()).append(at)

    def _landed(self, chat_id: int, counts: bool) -> None:
        """Count a group send from when its answer came, not from when it left: Telegram
        received it somewhere in between, so the window we keep never ends before its own."""
        sent = self._sent.get(chat_id)
        if counts and sent:
            sent[-1] = time.monotonic()

    async def _run(self, chat_id: int, job: Job, idempotent: bool = False) -> Any:
        network = 0
        counts = not idempotent  # new messages count toward the group limit, edits do not
        while True:
            wait = self._wait_for(chat_id, time.monotonic(), counts)
            while wait > 0:
                await asyncio.sleep(wait)
                wait = self._wait_for(chat_id, time.monotonic(), counts)
            self._note(chat_id, time.monotonic(), counts)
            try:
                result = await job()
                self._landed(chat_id, counts)
                return result
            except RetryAfter as exc:
                self.retry_after_seen += 1
                delay = retry_seconds(exc) + 0.1
                log.warning("telegram_retry_after", chat=chat_id, seconds=delay)
                await asyncio.sleep(delay)
            except BadRequest:
                raise  # permanent for this request: never retried (BadRequest is a NetworkError)
            except NetworkError:
                network += 1
                if not idempotent or network >= MAX_NETWORK:
                    raise  # a send may have been delivered: never repeated blindly
                await asyncio.sleep(min(10.0, 2.0**network))
