"""What polls did: a report per source for the caller, and a record per poll for storage.

Records are written in batches (`record_polls`, one transaction per `_FLUSH_EVERY` polls or
per tick, whichever comes first): one write transaction per poll was most of the cost of a
304 (issue 11).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from syndicator.config import PollSettings, SourceSettings
from syndicator.sources.fetch import FetchResult
from syndicator.sources.schedule import next_check
from syndicator.storage import PollRecord, Storage, aio
from syndicator.types import Article

log = structlog.get_logger("syndicator.poller")

_FLUSH_EVERY = 200


@dataclass(slots=True)
class SourceReport:
    """What one poll of one source did (a row of `syndicator poll --once`)."""

    source_id: str
    fetched: int = 0
    not_modified: int = 0
    new: int = 0
    duplicate: int = 0
    changed: int = 0
    deferred: int = 0  # new items left for the next poll ([poll] max_new_per_poll)
    failed: bool = False  # recorded as a failed poll (errors may also hold warnings)
    errors: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)
    # New articles not planned as they were stored (no Poller.planner), and whether one that
    # was came out ready to go: the daemon then plans them, or runs a publisher turn, at once.
    unplanned: int = 0
    sendable: bool = False
    # Filled only with Poller(keep_new_articles=True): 40,000 full articles of a first cycle
    # held until the cycle ends were most of its peak memory; storage has them by id.
    new_articles: list[Article] = field(default_factory=list)


def log_failure(source_id: str, error: str) -> None:
    """One warning line: the source, the class of the failure (the text before the first ":",
    e.g. "timeout", "deadline", "HTTP 503") and the message."""
    head = error.split(":", 1)[0].strip()
    error_class = head if head and len(head) <= 40 else "fetch"
    log.warning("source_fetch_failed", source=source_id, error_class=error_class, error=error)


def log_cycle(reports: list[SourceReport], *, started: int, running: int) -> None:
    # A second with nothing started and nothing finished is the usual case: debug, or the
    # journal fills with ~86,000 lines a day (issue 10).
    level = log.info if reports else log.debug
    level(
        "poll_cycle",
        sources=len(reports),
        started=started,
        running=running,
        fetched=sum(r.fetched for r in reports),
        not_modified=sum(r.not_modified for r in reports),
        new=sum(r.new for r in reports),
        deferred=sum(r.deferred for r in reports),
        duplicate=sum(r.duplicate for r in reports),
        changed=sum(r.changed for r in reports),
        errors=sum(len(r.errors) for r in reports),
    )


class PollRecorder:
    """Poll outcomes waiting to be stored, written in batches on the storage thread."""

    def __init__(
        self,
        storage: Storage,
        settings: PollSettings,
        *,
        clock: Callable[[], datetime],
        rng: random.Random,
        on_unhealthy: Callable[[str], None] | None = None,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.rng = rng
        self.on_unhealthy = on_unhealthy
        self._pending: list[PollRecord] = []

    async def record(
        self,
        source: SourceSettings,
        result: FetchResult,
        now: datetime,
        *,
        ok: bool,
        error_count: int,
        error: str | None = None,
        validators: bool = False,
        had_new: bool = False,
        unchanged: bool = False,
        memory: str | None = None,
        members: str | None = None,
        clean: bool = False,
    ) -> None:
        """Queue this poll's outcome (its next check time decided here); flush when full."""
        settings = self.settings
        when = next_check(
            now,
            source.interval,
            error_count=error_count if not ok else 0,
            retry_after=result.retry_after,
            max_age=result.max_age if ok else None,
            jitter=settings.jitter,
            max_backoff=settings.max_backoff,
            rng=self.rng,
        )
        self._pending.append(
            PollRecord(
                source_id=source.id,
                checked_at=now,
                next_check_at=when,
                ok=ok,
                error=error,
                etag=result.etag,
                last_modified=result.last_modified,
                body_hash=result.body_hash,
                validators_changed=validators,
                had_new=had_new,
                unchanged=unchanged,
                memory=memory,
                members=members,
                clean=clean,
            )
        )
        if len(self._pending) >= _FLUSH_EVERY:
            await self.flush()

    async def failed(
        self,
        source: SourceSettings,
        result: FetchResult,
        now: datetime,
        report: SourceReport,
        error_count: int,
        error: str | None,
        *,
        quiet: bool = False,
    ) -> SourceReport:
        """Record a failed poll: one log line naming the source and the kind of failure."""
        error = error or "fetch failed"
        report.errors.append(error)
        report.failed = True
        if not quiet:
            log_failure(source.id, error)
        failed = dataclasses.replace(result, error=error, body=b"")
        await self.record(source, failed, now, ok=False, error_count=error_count + 1, error=error)
        return report

    async def flush(self) -> None:
        """Store every queued outcome in one transaction; alert on sources gone unhealthy."""
        pending = self.take()
        if pending:
            self.stored(await aio.call(self.store, pending, self.clock()))

    def take(self) -> list[PollRecord]:
        """The queued outcomes, handed over to be stored (`store`, then `stored`)."""
        pending, self._pending = self._pending, []
        return pending

    def store(self, pending: list[PollRecord], now: datetime) -> list[str]:
        """Write them (blocking: on the storage thread); the sources gone unhealthy."""
        if not pending:
            return []
        unhealthy_after = self.settings.unhealthy_after
        return self.storage.record_polls(pending, unhealthy_after=unhealthy_after, now=now)

    def stored(self, unhealthy: list[str]) -> None:
        """On the loop, once written: say which sources went unhealthy."""
        for source_id in unhealthy:
            log.error("source_unhealthy", source=source_id)
            if self.on_unhealthy:
                self.on_unhealthy(source_id)
