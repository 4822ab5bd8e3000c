"""The publisher: plan new articles, reconcile unknown outcomes, send due posts. Exactly once.

Order of a send: claim (status publishing, attempt time committed) → HTTP → outcome committed
with its audit row. Nothing is re-sent while the outcome of an earlier attempt is unknown:
`reconcile()` looks for it first, and only a confirmed absence allows a new attempt.
Channels are drained concurrently, so one failing or throttled channel never blocks another.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from syndicator.config import ApprovalSettings, PublishingSettings
from syndicator.errors import (
    AmbiguousError,
    ChannelBlockedError,
    PublishError,
    TemporaryError,
    ThrottledError,
)
from syndicator.publishing.aftercare import finish_removals
from syndicator.publishing.digest import maybe_send_digest
from syndicator.publishing.lifecycle import SENDABLE, EventKind, Next, Phase, outcome_for
from syndicator.publishing.pacing import local_midnight, next_allowed
from syndicator.publishing.planner import plan_posts
from syndicator.publishing.recording import Listener, RecordingMixin
from syndicator.storage import PostPlan, PostRecord, Storage, aio
from syndicator.storage.drain import DrainState
from syndicator.types import Article, PostStatus

if TYPE_CHECKING:
    from channels.base import Channel

log = structlog.get_logger("syndicator.publisher")
S = PostStatus
E = EventKind
_PLAN_BATCH = 500  # articles per planning transaction (IN lists stay small on every backend)
_PLAN_BATCHES = 10  # batches per plan() call
_AFTERCARE = (S.PUBLISHING, S.REMOVING)  # a turn reconciles the first and takes down the second


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, TemporaryError) and not isinstance(exc, ThrottledError)


def backoff(attempts: int, initial: timedelta, cap: timedelta) -> timedelta:
    """Exponential: initial x 2^(attempts-1), capped."""
    return min(initial * (2 ** max(0, attempts - 1)), cap)


class Publisher(RecordingMixin):
    def __init__(
        self,
        storage: Storage,
        channels: Mapping[str, Channel],
        settings: PublishingSettings,
        approval: ApprovalSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        listener: Listener | None = None,
    ) -> None:
        self.storage = storage
        self.channels = dict(channels)
        self.settings = settings
        self.approval = approval
        self.clock = clock
        self.listener = listener
        self.started = False
        self.planned_sendable = False  # the last plan() made a post ready to go
        self.last_publish_latency: float | None = None
        self._next_send: dict[str, float] = {}  # channel -> monotonic time of its next send

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Reconcile what a previous run left half-done, then work until `stop` is set."""
        await self.reconcile_all(startup=True)
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("publisher_cycle_failed")
            with contextlib.suppress(TimeoutError):
                nap = self.next_send_in(self.settings.interval.total_seconds())
                await asyncio.wait_for(stop.wait(), nap)

    def next_send_in(self, default: float) -> float:
        """Seconds until a channel paced by `pause_between` may send again, at most
        `default` (the publishing interval): how long the publisher may nap."""
        now = time.monotonic()
        waits = [at - now for at in self._next_send.values() if at > now]
        return min([default, *waits])

    async def run_once(self) -> None:
        if not self.started:
            await self.reconcile_all(startup=True)
        # The turn's storage work in one hand-off (several every turn before; issue 11).
        due, removals, drains = await aio.call(self._plan_and_read, self.clock())
        await self.reconcile_all(due=due)
        await finish_removals(self.storage, self.channels, self.clock, due=removals)
        if due or removals:  # a reconcile or removal may have changed what the drains read
            drains = {}
        await asyncio.gather(*(self.drain(n, drains.get(n)) for n in self.channels))
        for name, channel in self.channels.items():
            try:
                await maybe_send_digest(self.storage, name, channel, self.clock())
            except Exception:
                log.exception("digest_crashed", channel=name)

    # -- planning ---------------------------------------------------------------------------

    def plan(self) -> int:
        """Create posts for articles that have none yet (or re-render waiting ones).

        In batches: one read of the articles, one write transaction per batch (the posts, the
        articles marked planned, one audit append). Per article this was ~11 ms of ORM round
        trips and a commit, a third of the daemon's CPU (docs/benchmarks.md). A first poll
        leaves thousands to plan: up to `_PLAN_BATCHES` batches per call, so the drains that
        follow in the same publisher cycle are not held back for long.
        """
        created, sendable = 0, False
        for _ in range(_PLAN_BATCHES):
            todo = self.storage.articles_for_planning(_PLAN_BATCH)
            if not todo:
                break
            now = self.clock()
            batch: list[tuple[int, list[PostPlan], str | None]] = []
            for article, image in todo:
                article_id = article.id
                assert article_id is not None
                if image:  # the original has no image; another source's copy carries one
                    article = dataclasses.replace(article, image_url=image)
                batch.append((article_id, *self.plan_one(article, now)))
            records = self.storage.save_plans_many(batch, now)
            created += len(records)
            sendable = sendable or any(r.status in SENDABLE for r in records)
            if len(todo) < _PLAN_BATCH:
                break
        self.planned_sendable = sendable
        return created

    def plan_one(self, article: Article, now: datetime) -> tuple[list[PostPlan], str | None]:
        """The posts an article gets, or none with the reason. Also what the poller calls to
        plan the articles it stores in their own transaction (Poller.planner)."""
        try:
            return plan_posts(
                article, self.channels, self.approval, now, self.settings.max_article_age
            )
        except Exception as exc:  # a template bug must not stop the other articles
            log.exception("render_failed", article=article.id)
            return [], f"render failed: {type(exc).__name__}: {exc}"

    def plan_new(self) -> bool:
        """Plan what the polls just stored, alone (a poll's wake-up: detected -> preview is
        a reported figure, and a first poll is done only once planned). True when a post came
        out ready to go (auto-approved): then the caller runs a whole turn at once. Without
        one, reconciling, take-downs and drains would find nothing new: a whole turn on every
        poll tick with new articles was most of the publisher's steady cost (issue 11)."""
        self.plan()
        return self.planned_sendable

    # -- reconciliation ---------------------------------------------------------------------

    def _plan_and_read(self, now: datetime) -> tuple[list[PostRecord], list[PostRecord], Any]:
        """plan(), then the posts due for reconciling and for removal, and each channel's
        DrainState (storage thread). Posts are read whole only when due_statuses saw some."""
        self.plan()
        with self.storage.reading():  # after plan's writes: the drains see its posts
            day, waiting = local_midnight(now), self.storage.due_statuses(_AFTERCARE, now)
            due = self.storage.due_reconciliations(now) if S.PUBLISHING in waiting else []
            drains = {name: self.storage.drain_state(name, now, day) for name in self.channels}
            return due, self.storage.due_removals(now) if S.REMOVING in waiting else [], drains

    async def reconcile_all(
        self, *, startup: bool = False, due: list[PostRecord] | None = None
    ) -> None:
        """Reconcile the posts left in publishing whose next look is due (all of them at
        start-up); `due`: already read by the caller."""
        now = self.clock()
        until = datetime.max.replace(tzinfo=UTC) if startup else now
        if due is None:
            due = await aio.call(self.storage.due_reconciliations, until)
        self.started = True
        for record in due:
            # A paused or throttled channel is not asked anything; its posts keep their place.
            status = await aio.call(self.storage.channel_status, record.channel)
            if status.can_publish(now):
                await self.reconcile(record)

    async def reconcile(self, record: PostRecord) -> None:
        """Look on the platform for what an attempt with an unknown outcome did."""
        channel = self.channels.get(record.channel)
        if channel is None:
            return
        now = self.clock()
        started = record.last_attempt_at or now
        try:
            found = await channel.reconcile(
                record.post, attempt_started_at=started, handle=record.handle
            )
        except PublishError as exc:
            await self._reconcile_failed(channel, record, exc)
            return
        if found is not None:
            await self._published(record, found, how="reconciled")
            return
        checks = record.reconcile_checks + 1
        if checks < self.settings.reconcile_checks:
            await aio.call(
                self.storage.record_outcome,
                record.id, status=S.PUBLISHING, now=now, error=record.last_error,
                error_class=record.error_class or "ambiguous",
                next_attempt_at=now + self.settings.reconcile_delay, reconcile_checks=checks,
                event=E.RECONCILE_MISS,
            )  # fmt: skip
            return
        if record.error_class == "duplicate" or record.handle:
            why = (
                "the service said the post was a duplicate, yet it cannot be found"
                if record.error_class == "duplicate"
                else "the service accepted the post (a processing token exists) but it cannot "
                "be found or verified"
            )
            await self._outcome(
                record, S.NEEDS_HUMAN, f"{why}; sending again could post it twice",
                "unresolved", event=E.NEEDS_HUMAN,
            )  # fmt: skip
            return
        # Confirmed absent after the checks: a new attempt is safe.
        restarted = await aio.call(self.storage.restart_attempt, record.id, now)
        if restarted is not None:
            await self._send(channel, restarted)

    async def _reconcile_failed(
        self, channel: Channel, record: PostRecord, exc: PublishError
    ) -> None:
        now = self.clock()
        outcome = outcome_for(exc, Phase.RECONCILE)
        if outcome.next is Next.PAUSE_CHANNEL:
            await self._needs_credentials(record, exc)
            return
        started = record.last_attempt_at or now
        window = channel.settings.reconcile_window
        if outcome.next is Next.LOOK_AGAIN and now - started <= window:
            if isinstance(exc, ThrottledError) and exc.retry_after:
                until = now + timedelta(seconds=exc.retry_after)
                await aio.call(self.storage.set_channel_blocked, record.channel, until, now)
            await aio.call(
                self.storage.record_outcome,
                record.id, status=S.PUBLISHING, now=now, error=str(exc)[:2000],
                error_class=record.error_class or "ambiguous",
                next_attempt_at=now + self.settings.reconcile_delay,
            )  # fmt: skip
            return
        why = (
            f"could not look for the post on {record.channel} for {window} "
            if outcome.next is Next.LOOK_AGAIN
            else f"{record.channel} refused the lookup "
        )
        await self._outcome(
            record, S.NEEDS_HUMAN, f"{why}({exc}); sending again could post it twice",
            "unresolved", event=E.NEEDS_HUMAN,
        )  # fmt: skip

    # -- sending ----------------------------------------------------------------------------

    async def drain(self, name: str, state: DrainState | None = None) -> int:
        """Send due posts of one channel, as pacing allows; return how many went out
        (`state`: the channel's, read in the turn's hand-off, _plan_and_read)."""
        channel = self.channels[name]
        sent = 0
        while True:
            now = self.clock()
            # One read for all the drain decides on (storage/drain.py); the claim, a write,
            # only when that read saw a post to take.
            if state is None:
                state = await aio.call(self.storage.drain_state, name, now, local_midnight(now))
            if not state.status.can_publish(now):
                return sent
            if state.publishing:
                return sent  # an unknown outcome first
            if not state.due:
                return sent
            cfg = channel.settings
            slot = next_allowed(
                now, min_interval=cfg.min_interval, max_per_day=cfg.max_per_day,
                quiet_window=cfg.quiet_window, last_published_at=state.last_published_at,
                published_today=state.published_today,
            )  # fmt: skip
            if slot > now:
                return sent
            if time.monotonic() < self._next_send.get(name, 0.0):
                return sent  # within `pause_between` of its last send: the next cycle sends
            state = None  # read again for the next post: this one is claimed and sent
            record = await aio.call(self.storage.claim_post, name, now)
            if record is None:
                return sent
            if await self._send(channel, record):
                sent += 1
            usage = channel.usage_pct
            pause = self.settings.pause_between.total_seconds()
            if usage is not None and usage > 75:
                pause *= 10  # the service says we are near its limit: slow down before it throttles
            if pause:
                # Not a sleep here: it held up the whole cycle (the other channels, a decision
                # that woke the publisher meanwhile) for `pause_between` after every send. The
                # daemon naps until this time instead (`next_send_in`).
                self._next_send[name] = time.monotonic() + pause
                return sent

    async def _send(self, channel: Channel, record: PostRecord) -> bool:
        """One attempt (the intent is already committed). A post whose service handle is
        known is resolved through that handle, never created a second time."""
        if record.handle:
            await self.reconcile(record)
            fresh = await aio.call(self.storage.get_post, record.id)
            return fresh is not None and fresh.status == S.PUBLISHED
        started = record.last_attempt_at or self.clock()

        async def save_handle(handle: dict[str, Any]) -> None:
            await aio.call(self.storage.save_handle, record.id, handle, self.clock())

        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_transient),
                stop=stop_after_attempt(self.settings.in_call_retries),
                wait=wait_random_exponential(
                    multiplier=self.settings.retry_initial.total_seconds(),
                    max=min(30.0, self.settings.retry_max.total_seconds()),
                ),
                reraise=True,
            ):
                with attempt:
                    result = await channel.publish(
                        record.post, attempt_started_at=started, on_handle=save_handle
                    )
        except PublishError as exc:
            await self._failed_attempt(channel, record, exc)
        except Exception as exc:  # a bug after the call may have gone out: treat as unknown
            log.exception("publish_crashed", post=record.id)
            err = AmbiguousError(record.channel, f"{type(exc).__name__}: {exc}")
            await self._failed_attempt(channel, record, err)
        else:
            await self._published(record, result, how="published")
            return True
        return False

    async def _failed_attempt(
        self, channel: Channel, record: PostRecord, exc: PublishError
    ) -> None:
        """Apply `lifecycle.outcome_for` to an error of a send."""
        handle = getattr(exc, "handle", None)
        if handle:
            await aio.call(self.storage.save_handle, record.id, handle, self.clock())
        # Re-read: the channel may have committed a handle during the call.
        fresh = await aio.call(self.storage.get_post, record.id) or record
        phase = Phase.VERIFY if fresh.handle else Phase.CREATE
        outcome = outcome_for(exc, phase)
        now = self.clock()
        kind = outcome.error_class
        if outcome.next is Next.PAUSE_CHANNEL:
            await self._needs_credentials(fresh, exc)
        elif outcome.next is Next.THROTTLE:
            seconds = exc.retry_after if isinstance(exc, ThrottledError) else None
            until = now + timedelta(seconds=seconds or 60)
            await aio.call(self.storage.set_channel_blocked, record.channel, until, now)
            await self._outcome(fresh, S.APPROVED, exc, kind, next_at=until, event=E.THROTTLED)
        elif outcome.next is Next.BLOCK_CHANNEL:
            assert isinstance(exc, ChannelBlockedError)
            until = now + timedelta(seconds=exc.retry_after)
            await aio.call(self.storage.set_channel_blocked, record.channel, until, now)
            await self._outcome(
                fresh, S.APPROVED, exc, kind, next_at=until, event=E.BLOCKED,
                data={"blocked_until": until},
            )  # fmt: skip
        elif outcome.next is Next.RETRY_LATER:
            if fresh.attempts >= self.settings.max_attempts:
                await self._outcome(fresh, S.FAILED, exc, kind, event=E.FAILED)
            else:
                wait = backoff(fresh.attempts, self.settings.retry_initial, self.settings.retry_max)
                await self._outcome(fresh, S.APPROVED, exc, kind, next_at=now + wait, event=E.RETRY)
        elif outcome.next is Next.FAIL:
            await self._outcome(fresh, S.FAILED, exc, kind, event=E.FAILED)
        elif outcome.next is Next.ASK_HUMAN:
            await self._outcome(fresh, S.NEEDS_HUMAN, exc, kind, event=E.NEEDS_HUMAN)
        else:  # RECONCILE: the outcome is unknown; look before anything else is sent
            log.warning("publish_ambiguous", post=record.id, channel=record.channel, error=str(exc))
            await self._outcome(fresh, S.PUBLISHING, exc, kind, next_at=now, event=E.AMBIGUOUS)
            latest = await aio.call(self.storage.get_post, record.id)
            if latest is not None and latest.status == S.PUBLISHING:
                await self.reconcile(latest)
