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
from syndicator.sources.trim import all_hashes, dump_memory, load_memory, trim
from syndicator.storage import PollRecord, Storage, aio
from syndicator.types import Article, Entry, ParseResult

log = structlog.get_logger("syndicator.poller")

_FLUSH_EVERY = 200
# A changed feed whose document to parse (after trimming to its new items) is at most this
# many bytes is parsed on the event loop: for such small work, handing it to a thread cost
# more CPU than the work itself (GIL hand-offs against the loop's HTTP traffic; measured, see
# docs/benchmarks.md). Bigger documents, such as portal feeds carrying full article bodies, go
# to a thread so the bot and the publisher stay responsive. Storing is never done on the loop,
# whatever the size: a write may wait for the SQLite lock (storage/aio.py).
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
    deferred: int = 0  # new items left for the next poll ([poll] max_new_per_poll)
    failed: bool = False  # recorded as a failed poll (errors may also hold warnings)
    errors: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)
    # Filled only with Poller(keep_new_articles=True): 40,000 full articles of a first cycle
    # held until the cycle ends were most of its peak memory; storage has them by id.
    new_articles: list[Article] = field(default_factory=list)


def _log_failure(source_id: str, error: str) -> None:
    """One warning line: the source, the class of the failure (the text before the first ":",
    e.g. "timeout", "deadline", "HTTP 503") and the message."""
    head = error.split(":", 1)[0].strip()
    error_class = head if head and len(head) <= 40 else "fetch"
    log.warning("source_fetch_failed", source=source_id, error_class=error_class, error=error)


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
        # Polls in flight (source id -> task) and reports finished since the last poll_due().
        self._running: dict[str, asyncio.Task[SourceReport]] = {}
        self._done: list[SourceReport] = []
        # Sources whose last poll left new items for later: one alert per flood, not per poll.
        self._flooding: set[str] = set()
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
        # Sources whose stored memory (a previous run's) was already looked for: _restore().
        self._restored: set[str] = set()

    def sync(self) -> None:
        self.storage.sync_sources([(s.id, s.url) for s in self.sources.values()], self.clock())

    async def poll_due(self) -> list[SourceReport]:
        """Start the sources whose next check has come; return the polls finished since.

        No cycle barrier: each due source is polled in its own task and this returns without
        waiting for them, so a portal that hangs or drips (up to `fetch.deadline`) never holds
        up the others. Called every second by the daemon; each call starts what became due
        and hands back what completed. A source still in flight is not started twice (its
        claim also keeps other daemons away until its poll is recorded).
        """
        now = self.clock()
        # The claim outlives the longest poll (fetch.deadline, then its record at the next
        # tick), so no one polls it twice; no longer, since the claims of an instance killed
        # mid-poll hold its sources still until they run out (bench/chaos.py: a 10-minute
        # floor here froze every source a SIGKILLed daemon had claimed for 10 minutes).
        lease = timedelta(seconds=3 * self._deadline())
        # A read finds what is due (most ticks: nothing); one statement claims it all and
        # hands back the states (storage.claim_due_sources).
        ready = await aio.call(self.storage.due_sources, now, among=list(self.sources))
        due = [sid for sid in ready if sid not in self._running]
        if due:
            states = await aio.call(self.storage.claim_due_sources, now, lease, due)
            for sid in states:
                task = asyncio.create_task(
                    self._poll_one(self.sources[sid], states.get(sid)), name=f"poll:{sid}"
                )
                self._running[sid] = task
                task.add_done_callback(self._finished)
        done, self._done = self._done, []
        await self._flush()
        if done:
            self.last_cycle_at = self.clock()
        self._log_cycle(done, started=len(due), running=len(self._running))
        return done

    @property
    def in_flight(self) -> int:
        """Polls started and not yet finished."""
        return len(self._running)

    def _finished(self, task: asyncio.Task[SourceReport]) -> None:
        sid = task.get_name().removeprefix("poll:")
        if self._running.get(sid) is task:
            del self._running[sid]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:  # _poll_one_now records its own failures; this is a bug
            log.error("source_poll_crashed", source=sid, error_class=type(exc).__name__)
            self._done.append(SourceReport(sid, errors=[f"{type(exc).__name__}: {exc}"]))
            return
        self._done.append(task.result())

    async def close(self) -> None:
        """Cancel polls in flight (daemon stop or reload) and store what finished."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._flush()

    async def poll(self, source_ids: Sequence[str] | None = None) -> list[SourceReport]:
        """Poll these sources now (all enabled ones by default), due or not, and wait for all.

        Each source is still bounded by `fetch.deadline`, so this ends in about that time.
        """
        ids = list(self.sources) if source_ids is None else list(source_ids)
        states = await aio.call(self.storage.source_states, ids)
        reports = await asyncio.gather(
            *(
                self._poll_one(self.sources[sid], states.get(sid))
                for sid in ids
                if sid in self.sources
            )
        )
        await self._flush()
        self.last_cycle_at = self.clock()
        self._log_cycle(list(reports), started=len(reports), running=0)
        return list(reports)

    def _log_cycle(self, reports: list[SourceReport], *, started: int, running: int) -> None:
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

    def _deadline(self) -> float:
        return float(getattr(self.fetcher, "deadline", 60.0))

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
        # One budget for fetch and parse together (fetch.deadline).
        until = asyncio.get_running_loop().time() + self._deadline()
        result = await self.fetcher.fetch(
            source.url,
            etag=etag,
            last_modified=last_modified,
            previous_hash=body_hash,
            now=now,
            deadline_at=until,
        )
        if not result.ok:
            return await self._failed(source, result, now, report, error_count, result.error)
        if result.not_modified:
            report.not_modified = 1
            await self._record(source, result, now, ok=True, error_count=0, unchanged=True)
            return report
        report.fetched = 1
        if source.id not in self._restored:
            await self._restore(source.id)
        try:
            async with asyncio.timeout_at(until):
                parsed = await self._parse_changed(source, result)
        except TimeoutError:
            # A parse thread cannot be stopped; its result is dropped when it ends. The XML
            # guards (rss.py) keep any one document's parse short, so this is a last resort.
            error = f"deadline: fetch and parse took over {self._deadline():g} s (fetch.deadline)"
            return await self._failed(source, result, now, report, error_count, error)
        try:
            # Always on the storage thread, even a small one: it writes (add_articles), and a
            # write waiting for the SQLite lock must not hold the loop (storage/aio.py).
            outcome, stamp = await aio.call(self._ingest, source, result, now, report, parsed)
        except Exception as exc:  # storage or a bug: recorded, never escapes into other sources
            error = f"ingest failed: {type(exc).__name__}: {exc}"
            log.error(
                "source_ingest_failed",
                source=source.id,
                error_class=type(exc).__name__,
                error=str(exc)[:300],
            )
            self._items.pop(source.id, None)
            self._seen.pop(source.id, None)
            return await self._failed(source, result, now, report, error_count, error, quiet=True)
        # Items left for the next poll must not hide behind validators, the body hash or the
        # remembered item digests: the next poll fetches and parses the whole document again.
        deferred = report.deferred > 0
        if outcome and not report.errors and not deferred:
            if stamp is None and source.kind != "json":  # nothing was written: read it
                stamp = await aio.call(self.storage.source_stamp, source.id)
            self._remember_items(source, result, stamp)
        else:
            self._items.pop(source.id, None)
        memory = self._memory(source.id)
        if not outcome:
            report.failed = True
            log.warning(
                "source_parse_failed",
                source=source.id,
                error_class="parse",
                error="; ".join(report.errors)[:300],
            )
        await self._record(
            source,
            result,
            now,
            ok=outcome,
            error_count=0 if outcome else error_count + 1,
            error="; ".join(report.errors) or None,
            validators=not deferred,
            had_new=report.new > 0,
            memory=memory,
        )
        # That memory is now in the poll record (stored at the next tick): hold none of it
        # here; the feed's next change reads it back (_restore). Held, 40,000 entries' digests
        # were ~24 MB of a first poll's peak RSS (issue 11, docs/benchmarks.md).
        self._items.pop(source.id, None)
        self._seen.pop(source.id, None)
        self._restored.discard(source.id)
        return report

    def _memory(self, source_id: str) -> str:
        """What to store of this source's memory (trim.dump_memory); "" forgets it."""
        items, seen = self._items.get(source_id), self._seen.get(source_id)
        if items is None and seen is None:
            return ""
        context = items[0] if items is not None else seen.context  # type: ignore[union-attr]
        if seen is not None and seen.context != context:
            seen = None
        return dump_memory(
            context,
            items[1] if items is not None else None,
            items[2] if items is not None else None,
            seen.entries if seen is not None else None,
        )

    async def _restore(self, source_id: str) -> None:
        """Once per source: take back what a previous run remembered of its last document.

        Read only for a feed that changed (a 304 needs none of it). It is as safe as the
        memory of a running poller: the stamp and the stored content hashes are checked
        against the database before anything is skipped.
        """
        self._restored.add(source_id)
        if source_id in self._items or source_id in self._seen:
            return
        text = (await aio.call(self.storage.poll_memories, [source_id])).get(source_id)
        memory = load_memory(text) if text else None
        if memory is None:
            return
        context, stamp, items, seen = memory
        if items is not None and stamp is not None:
            self._items[source_id] = (context, stamp, items)
        if seen is not None:
            self._seen[source_id] = _Seen(context, seen)

    async def _failed(
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
            _log_failure(source.id, error)
        failed = dataclasses.replace(result, error=error, body=b"")
        await self._record(source, failed, now, ok=False, error_count=error_count + 1, error=error)
        return report

    async def _parse_changed(self, source: SourceSettings, result: FetchResult) -> ParseResult:
        """Parse only the items not already stored, when the feed splits cleanly into items
        (a small document on the loop, a big one in a thread or the pool: _INLINE_BYTES)."""
        context = (result.final_url or source.url, source.agency_name)
        known = self._items.get(source.id)
        trimmed = None
        # The stamp is a read of one source's index entries, on the storage thread.
        if (
            source.kind != "json"
            and known is not None
            and known[0] == context
            and await aio.call(self.storage.source_stamp, source.id) == known[1]
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
                return parsed
            # The trimmed document did not parse cleanly: trust only the whole one.
        if len(result.body) <= _INLINE_BYTES and self.parse_pool is None:
            return _parse(source, result)
        return await self._parse(source, result)

    def _remember_items(self, source: SourceSettings, result: FetchResult, stamp: Any) -> None:
        """Remember the raw items just stored, with the stamp our own write left behind
        (or, when nothing was written, the stamp the caller read)."""
        if source.kind != "json":
            context = (result.final_url or source.url, source.agency_name)
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
        cap = self.poll_settings.max_new_per_poll
        stored = self.storage.add_articles(
            source.id,
            [a for _, a in articles],
            now,
            max_new=cap,
            announce_flood=source.id not in self._flooding,
        )
        report.new, report.duplicate, report.changed = (
            len(stored.new),
            len(stored.duplicates),
            len(stored.changed),
        )
        report.deferred = len(stored.deferred)
        if stored.deferred:
            if source.id not in self._flooding:
                log.warning(
                    "source_flood_capped",
                    source=source.id,
                    stored=report.new + report.duplicate,
                    deferred=report.deferred,
                    max_new_per_poll=cap,
                )
            self._flooding.add(source.id)
            later = set(stored.deferred)
            articles = [(i, a) for i, a in articles if a.guid not in later]
        else:
            self._flooding.discard(source.id)
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
        memory: str | None = None,
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
                memory=memory,
            )
        )
        if len(self._pending) >= _FLUSH_EVERY:
            await self._flush()

    async def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        unhealthy = await aio.call(
            self.storage.record_polls,
            pending,
            unhealthy_after=self.poll_settings.unhealthy_after,
            now=self.clock(),
        )
        for source_id in unhealthy:
            log.error("source_unhealthy", source=source_id)
            if self.on_unhealthy:
                self.on_unhealthy(source_id)
