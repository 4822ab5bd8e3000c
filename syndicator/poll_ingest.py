"""Storing what a changed feed's poll parsed: the poller's half that runs on the storage thread.

`_store` hands a parsed document to `_ingest` on the storage thread; `_ingest` normalises and
classifies what was not prepared already, leaves out what the poller's memory shows is stored
unchanged, and stores the rest (add_articles), with the flood cap. Kept apart from poller.py,
which schedules, fetches and parses.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from syndicator.config import PollSettings, SourceSettings
from syndicator.parse_workers import document_args
from syndicator.poll_memory import SourceMemory
from syndicator.poll_records import SourceReport
from syndicator.sources.classify import ClassifierRules
from syndicator.sources.document import parse_document
from syndicator.sources.fetch import FetchResult
from syndicator.sources.prepare import Prepared, digest, prepare_entries
from syndicator.storage import Storage, aio
from syndicator.storage.articles import IngestResult
from syndicator.storage.lookups import Lookups
from syndicator.storage.plan_batch import PlanHook
from syndicator.types import Article, ParseResult

if TYPE_CHECKING:
    from collections.abc import Callable

log = structlog.get_logger("syndicator.poller")

# How long the first changed feed of a moment waits for the others before they are stored
# together (_ingest_many). A tick starts every due source at once and their fetches end within
# tens of milliseconds; a poll's record is written at the next tick anyway.
INGEST_LINGER_S = 0.1


class IngestMixin:
    """The storing half of the Poller (see poller.py for the attributes it sets)."""

    storage: Storage
    memory: SourceMemory
    rules: ClassifierRules
    poll_settings: PollSettings
    keep_new_articles: bool
    planner: PlanHook | None
    _flooding: set[str]
    _parse: Callable[..., Any]
    # Changed feeds waiting to be stored together, and the task storing them (_ingest_soon).
    _ingest_queue: list[tuple[IngestJob, asyncio.Future[Any]]]
    _ingest_drainer: asyncio.Task[None] | None
    _unpolled: set[str]

    async def _store(
        self,
        source: SourceSettings,
        result: FetchResult,
        now: datetime,
        report: SourceReport,
        until: float,
        parsed: tuple[ParseResult | Prepared, list[bytes] | None, Any],
    ) -> tuple[bool, Any, list[str | None], list[bytes] | None]:
        """Ingest on the storage thread, even a small document: it writes, and a write waiting
        for the SQLite lock must not hold the loop (storage/aio.py). A document trimmed against
        a memory whose stamp is no longer the stored one (another daemon stored this source's
        articles since) is parsed whole and ingested again. The stamp is checked there, not
        read before trimming: a hand-off less per changed feed (docs/benchmarks.md)."""
        doc, hashes, expect = parsed
        job = (source, result, now, report, doc, expect)
        # The steady state, and a restart's changed feeds (trimmed against the memory kept
        # across restarts: a few items each): stored with the other changed feeds of the
        # moment. A new daemon's first wave (whole documents): each as soon as parsed, so
        # parsing and storing overlap.
        if not self._unpolled or expect is not None:
            stored = await self._ingest_soon(job)
        else:
            stored = await aio.call(self._ingest, *job)
        if stored is not None:
            return (*stored, hashes)
        async with asyncio.timeout_at(until):
            whole = await self._parse(source, result, now, whole=True)
        stored = await aio.call(self._ingest, source, result, now, report, whole)
        assert stored is not None  # no stamp to check
        return (*stored, None)

    async def _ingest_soon(self, job: IngestJob) -> tuple[bool, Any, list[str | None]] | None:
        """_ingest on the storage thread, with the other changed feeds of this moment: the
        polls of one tick end within a few tens of milliseconds of each other, and storing
        them in one transaction (_ingest_many) is cheaper than one each (issue 11). Not the
        whole documents of a first wave: there the slots (Poller._slots) would wait for whole
        batches, and the parse worker with them (the first poll ran at half its speed,
        docs/benchmarks.md)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._ingest_queue.append((job, future))
        if self._ingest_drainer is None:
            self._ingest_drainer = loop.create_task(self._drain_ingests(), name="ingest")
        return await future

    async def _drain_ingests(self) -> None:
        """Store what is queued, batch after batch, until nothing is: a batch gathers the
        feeds that arrive while the one before is stored, and the first waits INGEST_LINGER_S
        for the rest of its tick."""
        batch: list[tuple[IngestJob, asyncio.Future[Any]]] = []
        try:
            await asyncio.sleep(INGEST_LINGER_S)
            while self._ingest_queue:
                batch, self._ingest_queue = self._ingest_queue, []
                batch = [(job, f) for job, f in batch if not f.done()]  # not cancelled polls
                if not batch:
                    continue
                outcomes = await aio.call(self._ingest_many, [job for job, _ in batch])
                for (_, future), (value, error) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if error is not None:
                        future.set_exception(error)
                    else:
                        future.set_result(value)
                batch = []
        except BaseException as exc:  # a bug here, or the loop ending: no poll waits forever
            for _, future in [*batch, *self._ingest_queue]:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            self._ingest_queue = []
            raise
        finally:
            self._ingest_drainer = None

    def _ingest(
        self,
        source: SourceSettings,
        result: FetchResult,
        now: datetime,
        report: SourceReport,
        parsed: ParseResult | Prepared | None = None,
        expect: Any = None,
    ) -> tuple[bool, Any, list[str | None]] | None:
        """Normalise, classify (unless a worker did: Prepared) and store.

        Returns (whether the document yielded anything, the source's stamp after the write or
        None when nothing was written, the guid of each parsed entry in order or None where it
        yielded no article: the document's members, poll_memory.build_members). None, having
        done nothing, when `expect` (the stamp a trimmed document assumed) is not the
        source's stamp now.
        """
        staged = self._stage(source, result, now, parsed, expect)
        return None if staged is None else self._apply(source, report, staged)

    def _ingest_many(self, jobs: list[IngestJob]) -> list[tuple[Any, BaseException | None]]:
        """_ingest of several changed feeds in ONE write transaction (storage.writing()):
        per feed one BEGIN, one COMMIT, one audit-chain read and one hand-off less.
        Storing is all or nothing: if any feed's store raises, the transaction is rolled
        back and each is stored again in its own, so one bad feed never costs the others
        (nothing of a feed touches the poller's memory or its report before its own data
        is committed: _stage, then _apply). Returns (result, exception) per job."""
        if len(jobs) > 1:
            staged: list[_Staged | None] = []
            try:
                with self.storage.writing():
                    ready = [self._ready(j[0], j[1], j[2], j[4]) for j in jobs]
                    # What add_articles reads, read once for all (storage/lookups.py).
                    pairs = zip(jobs, ready, strict=True)
                    feeds = [(j[0].id, [a for _, a in r.articles]) for j, r in pairs]
                    lookups = self.storage.batch_lookups(feeds)
                    for (source, _, now, _, _, expect), r in zip(jobs, ready, strict=True):
                        staged.append(self._keep(source, now, r, expect, lookups))
                    # (their posts and audit events: when writing() ends, finish_lookups)
            except Exception as exc:
                log.warning("ingest_batch_retried_one_by_one", feeds=len(jobs),
                            error_class=type(exc).__name__, error=str(exc)[:300])  # fmt: skip
            else:
                return [
                    (None if st is None else self._apply(source, report, st), None)
                    for (source, _, _, report, _, _), st in zip(jobs, staged, strict=True)
                ]
        out: list[tuple[Any, BaseException | None]] = []
        for job in jobs:
            try:
                out.append((self._ingest(*job), None))
            except Exception as exc:  # handed to that feed's poll, which records it
                out.append((None, exc))
        return out

    def _stage(
        self,
        source: SourceSettings,
        result: FetchResult,
        now: datetime,
        parsed: ParseResult | Prepared | None,
        expect: Any,
        lookups: Lookups | None = None,
    ) -> _Staged | None:
        """The storing half of _ingest: prepare and store, touching nothing of the poller (its
        memory, its reports): that is _apply's, once the write is committed."""
        ready = self._ready(source, result, now, parsed)
        return self._keep(source, now, ready, expect, lookups)

    def _ready(
        self,
        source: SourceSettings,
        result: FetchResult,
        now: datetime,
        parsed: ParseResult | Prepared | None,
    ) -> _Staged:
        """Parse if need be, leave out what the memory shows stored, normalise and classify
        the rest: everything before the write (stored: still empty)."""
        url = result.final_url or source.url
        if parsed is None:
            parsed = parse_document(*document_args(source, result))
        context = (url, source.agency_name)
        if isinstance(parsed, Prepared):
            digests, count = list(parsed.digests), parsed.count
        else:
            digests, count = [digest(entry) for entry in parsed.entries], len(parsed.entries)
        skipped = self.memory.skip_known(source.id, context, digests)
        if isinstance(parsed, Prepared):  # every entry was prepared: leave out the skipped
            articles = [(i, a) for i, a in parsed.articles if i not in skipped]
            errors = [(i, e) for i, e in parsed.errors if i not in skipped]
        else:
            articles, errors = prepare_entries(
                parsed.entries, source_id=source.id, agency=source.agency_name, feed_url=url,
                now=now, rules=self.rules, skip=skipped,
            )  # fmt: skip
        # add_articles keeps the first article of a guid: one that a skipped entry before it
        # carries must not take its place.
        first_skipped: dict[str, int] = {}
        for i, guid in skipped.items():
            first_skipped.setdefault(guid, i)
        articles = [(i, a) for i, a in articles if first_skipped.get(a.guid, i + 1) > i]
        return _Staged(parsed.error, errors, articles, skipped, count, digests, context)

    def _keep(
        self,
        source: SourceSettings,
        now: datetime,
        ready: _Staged,
        expect: Any,
        lookups: Lookups | None,
    ) -> _Staged | None:
        """Store what _ready left (None, nothing written: `expect` is not the stamp now)."""
        articles = ready.articles
        # The stamp is checked in add_articles' own write transaction (no read of its own, and
        # no write between the check and the insert); with nothing to add, by a read.
        if expect is not None and not articles and self.storage.source_stamp(source.id) != expect:
            return None
        stored = self.storage.add_articles(
            source.id,
            [a for _, a in articles],
            now,
            max_new=self.poll_settings.max_new_per_poll,
            announce_flood=source.id not in self._flooding,
            expect=expect,
            plan=self.planner,
            lookups=lookups,
        )
        if stored.stale:
            return None
        ready.stored = stored
        return ready

    def _apply(
        self, source: SourceSettings, report: SourceReport, staged: _Staged
    ) -> tuple[bool, Any, list[str | None]]:
        """What a committed store tells the poll's report and the poller's memory."""
        st, stored = staged, staged.stored
        # Only now, so a document sent to a whole parse (stale) does not count twice.
        if st.parse_error:
            report.errors.append(f"parse: {st.parse_error}")
        report.errors.extend(error for _, error in st.errors)
        guids: list[str | None] = [st.skipped.get(i) for i in range(st.count)]
        for i, a in st.articles:
            guids[i] = a.guid
        if not st.articles and not st.skipped and st.parse_error:
            return False, None, guids
        report.new, report.duplicate, report.changed = (
            len(stored.new),
            len(stored.duplicates),
            len(stored.changed),
        )
        report.deferred = len(stored.deferred)
        articles = st.articles
        if stored.deferred:
            if source.id not in self._flooding:
                log.warning(
                    "source_flood_capped",
                    source=source.id,
                    stored=report.new + report.duplicate,
                    deferred=report.deferred,
                    max_new_per_poll=self.poll_settings.max_new_per_poll,
                )
            self._flooding.add(source.id)
            later = set(stored.deferred)
            articles = [(i, a) for i, a in articles if a.guid not in later]
        else:
            self._flooding.discard(source.id)
        report.new_ids = [a.id for a in stored.new if a.id is not None]
        report.unplanned = len(stored.new) - stored.planned
        report.sendable = stored.sendable
        if self.keep_new_articles:
            report.new_articles = stored.new
        self.memory.remember_entries(source.id, st.context, st.digests, st.skipped, articles)
        return True, stored.stamp, guids


# (source, fetch result, now, report, parsed document, expected stamp): _ingest's arguments.
IngestJob = tuple[SourceSettings, FetchResult, datetime, SourceReport, Any, Any]


@dataclass(slots=True)
class _Staged:
    """A feed stored by _stage (in a transaction maybe not committed yet), for _apply."""

    parse_error: str | None
    errors: list[tuple[int, str]]
    articles: list[tuple[int, Article]]
    skipped: dict[int, str]
    count: int
    digests: list[bytes]
    context: tuple[str, str]
    stored: IngestResult = field(default_factory=IngestResult)  # set once written (_keep)
