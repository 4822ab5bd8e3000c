"""Recording what a send or a lookup found: the outcome committed with its audit row, the
channel paused when its credentials fail, and the listener (the staff surfaces) told.

Split from publisher.py (the loop, reconciliation and sending); `Publisher` inherits these.
Every write is a compare-and-set from the status the publisher last read, so a post that a
person or another daemon moved meanwhile is left alone (`post_moved_meanwhile`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog

from syndicator.errors import PublishError
from syndicator.publishing.lifecycle import EventKind
from syndicator.storage import PostRecord, Storage, aio
from syndicator.storage.channels import NEEDS_CREDENTIALS
from syndicator.types import PostStatus, PublishResult

log = structlog.get_logger("syndicator.publisher")
S = PostStatus
E = EventKind
Listener = Callable[[str, PostRecord], Awaitable[None]]


class RecordingMixin:
    storage: Storage
    clock: Callable[[], datetime]
    listener: Listener | None
    last_publish_latency: float | None

    # -- recording --------------------------------------------------------------------------

    async def _published(self, record: PostRecord, result: PublishResult, *, how: str) -> None:
        now = self.clock()
        stored = await aio.call(self.storage.record_published, record.id, result, now, how=how)
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
        exc: PublishError | str,
        kind: str,
        *,
        next_at: datetime | None = None,
        event: EventKind | None,
        data: dict[str, Any] | None = None,
    ) -> None:
        stored = await aio.call(
            self.storage.record_outcome,
            record.id, status=status, now=self.clock(), error=str(exc)[:2000], error_class=kind,
            next_attempt_at=next_at, event=event, expected=record.status, data=data,
        )  # fmt: skip
        if stored is None:
            log.info("post_moved_meanwhile", post=record.id, expected=record.status.value)
            return
        log.warning(
            "post_" + (event or "outcome").removeprefix("post."),
            post=record.id,
            channel=record.channel,
            error=str(exc),
            status=status.value,
        )
        if stored is not None and status in (S.FAILED, S.NEEDS_HUMAN):
            await self._notify(status.value, stored)

    async def _needs_credentials(self, record: PostRecord, exc: PublishError) -> None:
        """Pause the channel; the post keeps its place (approved, or still to reconcile)."""
        now = self.clock()
        # With a vendor handle something was created and must still be reconciled; without
        # one the call was refused for its token, so nothing went out and it can wait approved.
        fresh = await aio.call(self.storage.get_post, record.id) or record
        status = S.PUBLISHING if fresh.handle else S.APPROVED
        await aio.call(
            self.storage.record_outcome,
            record.id, status=status, now=now, error=str(exc), error_class="credentials",
            next_attempt_at=None, event=E.WAITING_CREDENTIALS, expected=S.PUBLISHING,
        )  # fmt: skip
        fix = f"{exc.message} — fix: `syndicator channels set-token {record.channel}`"
        changed = await aio.call(
            self.storage.set_channel_status,
            record.channel,
            NEEDS_CREDENTIALS,
            reason=fix,
            actor="publisher",
            now=now,
        )
        if changed:
            stored = await aio.call(self.storage.get_post, record.id)
            if stored is not None:
                await self._notify("needs_credentials", stored)

    async def _notify(self, what: str, record: PostRecord) -> None:
        if self.listener is None:
            return
        try:
            await self.listener(what, record)
        except Exception:
            log.exception("listener_failed", what=what, post=record.id)
