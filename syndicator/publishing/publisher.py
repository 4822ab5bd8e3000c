"""The publisher: plan new articles, reconcile unknown outcomes, send due posts. Exactly once.

Order of a send: claim (status publishing, attempt time committed) → HTTP → outcome committed
with its audit row. Nothing is re-sent while the outcome of an earlier attempt is unknown:
`reconcile()` looks for it first, and only a confirmed absence allows a new attempt.
Channels are drained concurrently, so one failing or throttled channel never blocks another.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from syndicator.config import ApprovalSettings, PublishingSettings
from syndicator.errors import (
    AmbiguousError,
    CredentialsError,
    PermanentError,
    PublishError,
    TemporaryError,
    ThrottledError,
)
from syndicator.publishing.digest import maybe_send_digest
from syndicator.publishing.pacing import local_midnight, next_allowed
from syndicator.publishing.planner import plan_posts
from syndicator.storage import PostRecord, Storage
from syndicator.storage.channels import NEEDS_CREDENTIALS
from syndicator.types import PostStatus, PublishResult

log = structlog.get_logger("syndicator.publisher")
S = PostStatus
Listener = Callable[[str, PostRecord], Awaitable[None]]


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, TemporaryError) and not isinstance(exc, ThrottledError)


def backoff(attempts: int, initial: timedelta, cap: timedelta) -> timedelta:
    """Exponential: initial x 2^(attempts-1), capped."""
    return min(initial * (2 ** max(0, attempts - 1)), cap)


class Publisher:
    def __init__(
        self,
        storage: Storage,
        channels: Mapping[str, Any],
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
        self.last_publish_latency: float | None = None

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
                await asyncio.wait_for(stop.wait(), self.settings.interval.total_seconds())

    async def run_once(self) -> None:
        if not self.started:
            await self.reconcile_all(startup=True)
        await asyncio.to_thread(self.plan)
        await self.reconcile_all()
        await asyncio.gather(*(self.drain(name) for name in self.channels))
        for name, channel in self.channels.items():
            try:
                await maybe_send_digest(self.storage, name, channel, self.clock())
            except Exception:
                log.exception("digest_crashed", channel=name)

    # -- planning ---------------------------------------------------------------------------

    def plan(self) -> int:
        """Create posts for articles that have none yet (or re-render waiting ones)."""
        created = 0
        for article_id in self.storage.articles_to_plan():
            article = self.storage.get_article(article_id)
            if article is None:
                continue
            now = self.clock()
            try:
                plans, reason = plan_posts(
                    article, self.channels, self.approval, now, self.settings.max_article_age
                )
            except Exception as exc:  # a template bug must not stop the other articles
                log.exception("render_failed", article=article_id)
                plans, reason = [], f"render failed: {type(exc).__name__}: {exc}"
            records = self.storage.save_plans(article_id, plans, now, skipped_reason=reason)
            created += len(records)
        return created

    # -- reconciliation ---------------------------------------------------------------------

    async def reconcile_all(self, *, startup: bool = False) -> None:
        now = self.clock()
        due = self.storage.due_reconciliations(datetime.max.replace(tzinfo=UTC) if startup else now)
        self.started = True
        for record in due:
            await self.reconcile(record)

    async def reconcile(self, record: PostRecord) -> None:
        channel = self.channels.get(record.channel)
        if channel is None:
            return
        now = self.clock()
        started = record.last_attempt_at or now
        window_over = now - started > channel.settings.reconcile_window
        try:
            found = await channel.reconcile(
                record.post, attempt_started_at=started, handle=record.handle
            )
        except CredentialsError as exc:
            await self._needs_credentials(record, exc)
            return
        except (TemporaryError, AmbiguousError) as exc:  # could not look: look again later
            if window_over:
                await self._outcome(
                    record, S.NEEDS_HUMAN, exc, "unresolved", event="post.needs_human"
                )
            else:
                await self._outcome(
                    record,
                    S.PUBLISHING,
                    exc,
                    "ambiguous",
                    next_at=now + self.settings.reconcile_delay,
                    event=None,
                )
            return
        except PermanentError as exc:
            await self._outcome(record, S.NEEDS_HUMAN, exc, "unresolved", event="post.needs_human")
            return
        if found is not None:
            await self._published(record, found, how="reconciled")
            return
        checks = record.reconcile_checks + 1
        if checks < self.settings.reconcile_checks:
            stored = self.storage.record_outcome(
                record.id, status=S.PUBLISHING, now=now, error=record.last_error,
                error_class=record.error_class or "ambiguous",
                next_attempt_at=now + self.settings.reconcile_delay, reconcile_checks=checks,
                event="post.reconcile_miss",
            )  # fmt: skip
            return
        if record.error_class == "duplicate" or record.handle:
            # The service said "duplicate", or holds a processing token we cannot resolve:
            # sending again could double-post, so a human decides.
            stored = self.storage.record_outcome(
                record.id, status=S.NEEDS_HUMAN, now=now, error=record.last_error or "not found",
                error_class="unresolved", event="post.needs_human",
            )  # fmt: skip
            if stored is not None:
                await self._notify("needs_human", stored)
            return
        # Confirmed absent after the checks: a new attempt is safe.
        restarted = self.storage.restart_attempt(record.id, now)
        if restarted is not None:
            await self._send(channel, restarted)

    # -- sending ----------------------------------------------------------------------------

    async def drain(self, name: str) -> int:
        """Send due posts of one channel, as pacing allows; return how many went out."""
        channel = self.channels[name]
        sent = 0
        while True:
            now = self.clock()
            if not self.storage.channel_status(name).can_publish(now):
                return sent
            if self.storage.list_posts(status=[S.PUBLISHING], channel=name, limit=1):
                return sent  # an unknown outcome first
            today, last = self.storage.publishing_counts(name, local_midnight(now))
            cfg = channel.settings
            slot = next_allowed(
                now, min_interval=cfg.min_interval, max_per_day=cfg.max_per_day,
                quiet_window=cfg.quiet_window, last_published_at=last, published_today=today,
            )  # fmt: skip
            if slot > now:
                return sent
            record = self.storage.claim_post(name, now)
            if record is None:
                return sent
            if await self._send(channel, record):
                sent += 1
            usage = getattr(channel, "usage_pct", None)
            pause = self.settings.pause_between.total_seconds()
            if usage is not None and usage > 75:
                pause *= 10  # Graph says we are near the limit: slow down before it throttles
            if pause:
                await asyncio.sleep(pause)

    async def _send(self, channel: Any, record: PostRecord) -> bool:
        started = record.last_attempt_at or self.clock()

        async def save_handle(handle: dict[str, Any]) -> None:
            await asyncio.to_thread(self.storage.save_handle, record.id, handle, self.clock())

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
        except CredentialsError as exc:
            await self._needs_credentials(record, exc)
        except ThrottledError as exc:
            until = self.clock() + timedelta(seconds=exc.retry_after or 60)
            self.storage.set_channel_blocked(record.channel, until, self.clock())
            await self._outcome(
                record, S.APPROVED, exc, "throttled", next_at=until, event="post.throttled"
            )
        except TemporaryError as exc:
            if record.attempts >= self.settings.max_attempts:
                await self._outcome(record, S.FAILED, exc, "temporary", event="post.failed")
            else:
                wait = backoff(
                    record.attempts, self.settings.retry_initial, self.settings.retry_max
                )
                await self._outcome(
                    record,
                    S.APPROVED,
                    exc,
                    "temporary",
                    next_at=self.clock() + wait,
                    event="post.retry",
                )
        except AmbiguousError as exc:
            handle = getattr(exc, "handle", None)
            if handle:
                self.storage.save_handle(record.id, handle, self.clock())
            kind = "duplicate" if exc.code == 506 else "ambiguous"
            log.warning("publish_ambiguous", post=record.id, channel=record.channel, error=str(exc))
            await self._outcome(
                record, S.PUBLISHING, exc, kind, next_at=self.clock(), event="post.ambiguous"
            )
            fresh = self.storage.get_post(record.id)
            if fresh is not None:
                await self.reconcile(fresh)
        except PermanentError as exc:
            await self._outcome(record, S.FAILED, exc, "permanent", event="post.failed")
        except Exception as exc:  # a bug after the call may have gone out: treat as unknown
            log.exception("publish_crashed", post=record.id)
            err = AmbiguousError(record.channel, f"{type(exc).__name__}: {exc}")
            await self._outcome(
                record,
                S.PUBLISHING,
                err,
                "ambiguous",
                next_at=self.clock() + self.settings.reconcile_delay,
                event="post.ambiguous",
            )
        else:
            await self._published(record, result, how="published")
            return True
        return False

    # -- recording --------------------------------------------------------------------------

    async def _published(self, record: PostRecord, result: PublishResult, *, how: str) -> None:
        now = self.clock()
        stored = self.storage.record_published(record.id, result, now, how=how)
        if record.decided_at is not None:
            self.last_publish_latency = (now - record.decided_at).total_seconds()
        log.info(
            "post_published",
            post=record.id,
            channel=record.channel,
            how=how,
            external_id=result.external_id,
            attempts=record.attempts,
        )
        if stored is not None:
            await self._notify("published", stored)

    async def _outcome(
        self,
        record: PostRecord,
        status: PostStatus,
        exc: PublishError,
        kind: str,
        *,
        next_at: datetime | None = None,
        event: str | None,
    ) -> None:
        stored = self.storage.record_outcome(
            record.id, status=status, now=self.clock(), error=str(exc)[:2000], error_class=kind,
            next_attempt_at=next_at, event=event,
        )  # fmt: skip
        log.warning(
            "post_" + (event or "outcome").removeprefix("post."),
            post=record.id,
            channel=record.channel,
            error=str(exc),
            status=status.value,
        )
        if stored is not None and status in (S.FAILED, S.NEEDS_HUMAN):
            await self._notify(status.value, stored)

    async def _needs_credentials(self, record: PostRecord, exc: CredentialsError) -> None:
        """Pause the channel; the post keeps its place (approved, or still to reconcile)."""
        now = self.clock()
        # With a vendor handle something was created and must still be reconciled; without
        # one the call was refused for its token, so nothing went out and it can wait approved.
        status = S.PUBLISHING if record.handle else S.APPROVED
        self.storage.record_outcome(
            record.id, status=status, now=now, error=str(exc), error_class="credentials",
            next_attempt_at=None, event="post.waiting_credentials",
        )  # fmt: skip
        fix = f"{exc.message} — fix: `syndicator channels set-token {record.channel}`"
        changed = self.storage.set_channel_status(
            record.channel, NEEDS_CREDENTIALS, reason=fix, actor="publisher", now=now
        )
        if changed:
            stored = self.storage.get_post(record.id)
            if stored is not None:
                await self._notify("needs_credentials", stored)

    async def _notify(self, what: str, record: PostRecord) -> None:
        if self.listener is None:
            return
        try:
            await self.listener(what, record)
        except Exception:
            log.exception("listener_failed", what=what, post=record.id)
