"""One poll cycle: due sources → fetch → parse → normalise → classify → store.

Failures are per source: one broken feed is recorded and the others carry on. Only validators
of a source whose articles were stored are saved, so a crash mid-cycle re-fetches, never loses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import random
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from syndicator.config import PollSettings, SourceSettings
from syndicator.sources.classify import ClassifierRules, classify
from syndicator.sources.document import parse_document
from syndicator.sources.fetch import Fetcher, FetchResult
from syndicator.sources.normalise import normalise
from syndicator.sources.schedule import next_check
from syndicator.sources.trim import all_hashes, trim
from syndicator.storage import PollRecord, Storage
from syndicator.types import Article, Entry, ParseResult

log = structlog.get_logger("syndicator.poller")

_FLUSH_EVERY = 200
# A changed feed whose document to parse (after trimming to its new items) is at most this
# many bytes is parsed and stored on the event loop: for such small work, handing it to a
# thread cost more CPU than the work itself (GIL hand-offs against the loop's HTTP traffic;
# measured, see docs/benchmarks.md). The longest stall this allows is a whole small feed seen
# for the first time (a 7.5 KB, 20-item feed: ~25 ms on average). Bigger documents, such as
# portal feeds carrying full article bodies, go to a thread so the bot and the publisher stay
# responsive.
_INLINE_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class _Seen:
    """The raw entries of a source's last stored document: digest -> (guid, content hash)."""

    context: tuple[str, str]
    entries: dict[bytes, tuple[str, str]]


def _parse_args(source: SourceSettings, result: FetchResult) -> tuple[Any, ...]:
    """Plain arguments for parse_document (cheap to send to a worker process)."""
    mapping = source.mapping.model_dump() if source.kind == "json" and source.mapping else None
    return (source.kind, result.body, result.headers, result.final_url or source.url, mapping)


def _parse(source: SourceSettings, result: FetchResult) -> ParseResult:
    return parse_document(*_parse_args(source, result))


def _digest(entry: Entry) -> bytes:
    """A digest of everything a raw entry holds (its repr spells out every field)."""
    return hashlib.blake2b(repr(entry).encode("utf-8", "surrogatepass"), digest_size=16).digest()


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
    new_ids: list[int] = field(default_factory=list)
    # Filled only with Poller(keep_new_articles=True): 40,000 full articles of a first cycle
    # held until the cycle ends were most of its peak memory; storage has them by id.
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
        keep_new_articles: bool = False,
        ingest_slots: int = 0,
        parse_pool: Executor | None = None,
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
        self.keep_new_articles = keep_new_articles
        self.parse_pool = parse_pool
        # Bodies fetched but not yet stored are bounded: without this a first cycle fetches
        # every feed long before it can parse them all, and they pile up in memory.
        self._slots = asyncio.Semaphore(ingest_slots or 4 * (os.cpu_count() or 2))
        # Per source: the raw entries of the last document stored, see _skip_known().
        self._seen: dict[str, _Seen] = {}
        # Per source: (document URL, agency), the stored articles' stamp, and the hashes of
        # the raw items last stored. Another writer changing the source's rows (a second
        # daemon) changes the stamp, and the next document is then parsed whole.
        self._items: dict[str, tuple[tuple[str, str], Any, set[bytes]]] = {}

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
        async with self._slots:
            return await self._poll_one_now(source, state)

    async def _poll_one_now(self, source: SourceSettings, state: object) -> SourceReport:
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
            parsed, small = await self._parse_changed(source, result)
            if small:
                outcome, stamp = self._ingest(source, result, now, report, parsed)
            else:
                outcome, stamp = await asyncio.to_thread(
                    self._ingest, source, result, now, report, parsed
                )
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
        if outcome and not report.errors:
            self._remember_items(source, result, stamp)
        else:
            self._items.pop(source.id, None)
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

    async def _parse_changed(
        self, source: SourceSettings, result: FetchResult
    ) -> tuple[ParseResult, bool]:
        """Parse only the items not already stored, when the feed splits cleanly into items.

        Also says whether the work is small enough to stay on the event loop (_INLINE_BYTES).
        """
        context = (result.final_url or source.url, source.agency_name)
        known = self._items.get(source.id)
        trimmed = None
        # The stamp is a read of one source's index entries (readers never wait for writers).
        if (
            source.kind != "json"
            and known is not None
            and known[0] == context
            and self.storage.source_stamp(source.id) == known[1]
        ):
            trimmed = trim(result.body, known[2])
        if trimmed is not None:
            body = trimmed[0]
            small = len(body) <= _INLINE_BYTES and self.parse_pool is None
            if small:
                parsed = _parse(source, dataclasses.replace(result, body=body))
            else:
                parsed = await self._parse(source, dataclasses.replace(result, body=body))
            if not parsed.error:
                return parsed, small
            # The trimmed document did not parse cleanly: trust only the whole one.
        if len(result.body) <= _INLINE_BYTES and self.parse_pool is None:
            return _parse(source, result), True
        return await self._parse(source, result), False

    def _remember_items(self, source: SourceSettings, result: FetchResult, stamp: Any) -> None:
        """Remember the raw items just stored, with the stamp our own write left behind."""
        if source.kind != "json":
            context = (result.final_url or source.url, source.agency_name)
            if stamp is None:  # nothing was written: read it
                stamp = self.storage.source_stamp(source.id)
            self._items[source.id] = (context, stamp, set(all_hashes(result.body)))

    async def _parse(self, source: SourceSettings, result: FetchResult) -> ParseResult:
        """Parse in the process pool when there is one (another core), else in a thread."""
        if self.parse_pool is None:
            return await asyncio.to_thread(_parse, source, result)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.parse_pool, parse_document, *_parse_args(source, result)
        )

    def _ingest(
        self,
        source: SourceSettings,
        result: FetchResult,
        now: datetime,
        report: SourceReport,
        parsed: ParseResult | None = None,
    ) -> tuple[bool, Any]:
        """Parse, normalise, classify and store.

        Returns (whether the document yielded anything, the source's stamp after the write or
        None when nothing was written).
        """
        url = result.final_url or source.url
        if parsed is None:
            parsed = _parse(source, result)
        if parsed.error:
            report.errors.append(f"parse: {parsed.error}")
        entries = parsed.entries
        context = (url, source.agency_name)
        digests = [_digest(entry) for entry in entries]
        skipped = self._skip_known(source.id, context, digests)
        articles: list[tuple[int, Article]] = []
        for i, entry in enumerate(entries):
            if i in skipped:
                continue
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
                articles.append((i, classify(article, self.rules)))
        if not articles and not skipped and parsed.error:
            return False, None
        # add_articles keeps the first article of a guid: one that a skipped entry before it
        # carries must not take its place.
        first_skipped: dict[str, int] = {}
        for i, guid in skipped.items():
            first_skipped.setdefault(guid, i)
        articles = [(i, a) for i, a in articles if first_skipped.get(a.guid, i + 1) > i]
        stored = self.storage.add_articles(source.id, [a for _, a in articles], now)
        report.new, report.duplicate, report.changed = (
            len(stored.new),
            len(stored.duplicates),
            len(stored.changed),
        )
        report.new_ids = [a.id for a in stored.new if a.id is not None]
        if self.keep_new_articles:
            report.new_articles = stored.new
        previous = self._seen.get(source.id)
        seen: dict[bytes, tuple[str, str]] = {}
        if previous is not None and skipped:
            seen = {digests[i]: previous.entries[digests[i]] for i in skipped}
        seen.update((digests[i], (a.guid, a.content_hash)) for i, a in articles)
        self._seen[source.id] = _Seen(context, seen)
        return True, stored.stamp

    def _skip_known(
        self, source_id: str, context: tuple[str, str], digests: list[bytes]
    ) -> dict[int, str]:
        """Entries (index -> guid) that would only be found unchanged again: skip them.

        An entry is skipped when it is byte for byte the raw entry this poller last normalised
        for the source (same document URL and agency, the same rules: normalise and classify
        are pure), *and* the stored content hash of its guid is still the hash it normalised
        to. Storing it again would then change nothing (add_articles: same guid, same hash),
        so de-duplication, change detection and the audit trail see exactly what they would
        have. After a restart nothing is remembered and every entry is normalised once.
        """
        previous = self._seen.get(source_id)
        if previous is None or previous.context != context:
            return {}
        candidates = {
            i: previous.entries[d] for i, d in enumerate(digests) if d in previous.entries
        }
        if not candidates:
            return {}
        stored = self.storage.content_hashes(
            source_id, list({guid for guid, _ in candidates.values()})
        )
        return {i: guid for i, (guid, h) in candidates.items() if stored.get(guid) == h}

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
