"""One poll cycle: due sources → fetch → parse → normalise → classify → store.

Failures are per source: one broken feed is recorded and the others carry on. Only validators
of a source whose articles were stored are saved, so a crash mid-cycle re-fetches, never loses.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from syndicator.config import PollSettings, SourceSettings
from syndicator.sources.classify import ClassifierRules, classify
from syndicator.sources.fetch import Fetcher, FetchResult
from syndicator.sources.jsonapi import parse_json
from syndicator.sources.normalise import normalise
from syndicator.sources.rss import parse_feed
from syndicator.sources.schedule import next_check
from syndicator.storage import PollRecord, Storage
from syndicator.types import Article, ParseResult

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
    errors: list[str] = field(default_factory=list)
    new_articles: list[Article] = field(default_factory=list)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Poller:
    def __init__(
        self,
        storage: Storage,
        fetcher: Fetcher,
        sources: Sequence[SourceSettings],
        rules: ClassifierRules,
        poll: PollSettings,
        *,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        on_unhealthy: Callable[[str], None] | None = None,
    ) -> None:
        self.storage = storage
        self.fetcher = fetcher
        self.sources = {s.id: s for s in sources if s.enabled}
        self.rules = rules
        self.poll_settings = poll
        self.clock = clock
        self.rng = rng or random.Random()
        self.on_unhealthy = on_unhealthy
        self._pending: list[PollRecord] = []
        self.last_cycle_at: datetime | None = None

    def sync(self) -> None:
        self.storage.sync_sources([(s.id, s.url) for s in self.sources.values()], self.clock())

    async def poll_due(self) -> list[SourceReport]:
        """Poll the sources whose next check has come (claiming each, for multi-instance)."""
        now = self.clock()
        lease = timedelta(minutes=10)
        due = [
            sid
            for sid in self.storage.due_sources(now, among=list(self.sources))
            if self.storage.claim_source(sid, now, lease)
        ]
        return await self.poll(due)

    async def poll(self, source_ids: Sequence[str] | None = None) -> list[SourceReport]:
        """Poll these sources now (all enabled ones by default), due or not."""
        ids = list(self.sources) if source_ids is None else list(source_ids)
        states = self.storage.source_states(ids)
        started = self.clock()
        reports = await asyncio.gather(
            *(
                self._poll_one(self.sources[sid], states.get(sid))
                for sid in ids
                if sid in self.sources
            )
        )
        await self._flush()
        self.last_cycle_at = self.clock()
        log.info(
            "poll_cycle",
            sources=len(reports),
            fetched=sum(r.fetched for r in reports),
            not_modified=sum(r.not_modified for r in reports),
            new=sum(r.new for r in reports),
            duplicate=sum(r.duplicate for r in reports),
            changed=sum(r.changed for r in reports),
            errors=sum(len(r.errors) for r in reports),
            seconds=round((self.last_cycle_at - started).total_seconds(), 3),
        )
        return list(reports)

    async def _poll_one(self, source: SourceSettings, state: object) -> SourceReport:
        report = SourceReport(source.id)
        etag = getattr(state, "etag", None)
        last_modified = getattr(state, "last_modified", None)
        body_hash = getattr(state, "body_hash", None)
        error_count = getattr(state, "error_count", 0)
        now = self.clock()
        result = await self.fetcher.fetch(
            source.url, etag=etag, last_modified=last_modified, previous_hash=body_hash, now=now
        )
        if not result.ok:
            report.errors.append(result.error or "fetch failed")
            await self._record(
                source, result, now, ok=False, error_count=error_count + 1, error=result.error
            )
            log.warning("source_fetch_failed", source=source.id, error=result.error)
            return report
        if result.not_modified:
            report.not_modified = 1
            await self._record(source, result, now, ok=True, error_count=0, unchanged=True)
            return report
        report.fetched = 1
        try:
            outcome = await asyncio.to_thread(self._ingest, source, result, now, report)
        except Exception as exc:  # storage or a bug: recorded, never escapes into other sources
            log.exception("source_ingest_failed", source=source.id)
            report.errors.append(f"{type(exc).__name__}: {exc}")
            await self._record(
                source,
                result,
                now,
                ok=False,
                error_count=error_count + 1,
                error=f"ingest failed: {exc}",
            )
            return report
        await self._record(
            source,
            result,
            now,
            ok=outcome,
            error_count=0 if outcome else error_count + 1,
            error="; ".join(report.errors) or None,
            validators=True,
            had_new=report.new > 0,
        )
        return report

    def _ingest(
        self, source: SourceSettings, result: FetchResult, now: datetime, report: SourceReport
    ) -> bool:
        """Parse, normalise, classify and store; True when the document yielded anything."""
        url = result.final_url or source.url
        parsed: ParseResult
        if source.kind == "json":
            assert source.mapping is not None
            parsed = parse_json(result.body, source.mapping.model_dump(), url)
        else:
            parsed = parse_feed(result.body, result.headers, url)
        if parsed.error:
            report.errors.append(f"parse: {parsed.error}")
        articles: list[Article] = []
        for entry in parsed.entries:
            try:
                article = normalise(
                    entry,
                    source_id=source.id,
                    agency=source.agency_name,
                    feed_url=url,
                    now=now,
                    markers=self.rules.secrecy_markers,
                )
            except Exception as exc:  # one bad entry must not cost the others
                report.errors.append(
                    f"entry {entry.guid or entry.url}: {type(exc).__name__}: {exc}"
                )
                continue
            if article is not None:
                articles.append(classify(article, self.rules))
        if not articles and parsed.error:
            return False
        stored = self.storage.add_articles(source.id, articles, now)
        report.new, report.duplicate, report.changed = (
            len(stored.new),
            len(stored.duplicates),
            len(stored.changed),
        )
        report.new_articles = stored.new
        return True

    async def _record(
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
    ) -> None:
        settings = self.poll_settings
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
            )
        )
        if len(self._pending) >= _FLUSH_EVERY:
            await self._flush()

    async def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        unhealthy = await asyncio.to_thread(
            self.storage.record_polls,
            pending,
            unhealthy_after=self.poll_settings.unhealthy_after,
            now=self.clock(),
        )
        for source_id in unhealthy:
            log.error("source_unhealthy", source=source_id)
            if self.on_unhealthy:
                self.on_unhealthy(source_id)
