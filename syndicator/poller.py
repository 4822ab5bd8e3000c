"""One poll cycle: due sources → fetch → parse → normalise → classify → store.

Failures are per source: one broken feed is recorded and the others carry on. Only validators
of a source whose articles were stored are saved, so a crash mid-cycle re-fetches, never loses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from syndicator.config import PollSettings, SourceSettings
from syndicator.parse_workers import ParseWorkers, document_args
from syndicator.poll_ingest import IngestMixin
from syndicator.poll_memory import SourceMemory
from syndicator.poll_records import PollRecorder, SourceReport, log_cycle
from syndicator.sources.classify import ClassifierRules
from syndicator.sources.document import parse_document
from syndicator.sources.fetch import Fetcher, FetchResult
from syndicator.sources.prepare import Prepared
from syndicator.sources.trim import trim
from syndicator.storage import Storage, aio
from syndicator.storage.plan_batch import PlanHook
from syndicator.types import ParseResult

log = structlog.get_logger("syndicator.poller")

# A changed feed whose document to parse (after trimming to its new items) is at most this
# many bytes is parsed on the event loop: for such small work, handing it to a thread cost
# more CPU than the work itself (GIL hand-offs against the loop's HTTP traffic; measured, see
# docs/benchmarks.md). Bigger documents, such as portal feeds carrying full article bodies, go
# to a thread so the bot and the publisher stay responsive. Storing is never done on the loop,
# whatever the size: a write may wait for the SQLite lock (storage/aio.py).
_INLINE_BYTES = 16 * 1024
# Bigger ones go to a thread even with a worker: a slow one must not hold up those queued behind.
_WORKER_MAX_BYTES = 1024 * 1024
# Polls started per loop iteration (a first poll starts every source; /healthz answers between)
_START_SLICE = 100
# Sources whose stored memories one storage call reads to hold them (_hold_stored): few, so
# the texts read at once (~5 KB each) stay a small part of the RSS.
_HOLD_CHUNK = 100


def _parse(source: SourceSettings, result: FetchResult) -> ParseResult:
    return parse_document(*document_args(source, result))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Poller(IngestMixin):
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
        parse_processes: int = 0,
    ) -> None:
        self.storage = storage
        self.fetcher = fetcher
        self.sources = {s.id: s for s in sources if s.enabled}
        self.rules = rules
        self.poll_settings = poll
        self.clock = clock
        self.records = PollRecorder(
            storage, poll, clock=clock, rng=rng or random.Random(), on_unhealthy=on_unhealthy
        )
        self.memory = SourceMemory(storage)
        # Polls in flight (source id -> task) and reports finished since the last poll_due().
        self._running: dict[str, asyncio.Task[SourceReport]] = {}
        self._done: list[SourceReport] = []
        # Sources not polled yet by this poller: the daemon settles its heap once it is empty.
        self._unpolled = set(self.sources)
        self._held_loaded = False  # the stored memories were read to be held (_hold_stored)
        # Sources whose last poll left new items for later: one alert per flood, not per poll.
        self._flooding: set[str] = set()
        self._ingest_queue = []
        self._ingest_drainer = None
        self.last_cycle_at: datetime | None = None
        self.keep_new_articles = keep_new_articles
        # The publisher's Publisher.plan_one, set by the daemon: the new articles of a poll
        # are planned in the transaction that stores them. None: Publisher.plan does it later.
        self.planner: PlanHook | None = None
        # Whole documents are prepared in these worker processes (parse_workers.py); 0: here.
        self.workers = ParseWorkers(parse_processes, rules)
        self._in_progress = 0  # polls started and not finished (poll_due's and poll()'s)
        # Bodies fetched but not yet stored are bounded: without this a first cycle fetches
        # every feed long before it can parse them all, and they pile up in memory.
        self._slots = asyncio.Semaphore(ingest_slots or 4 * (os.cpu_count() or 2))

    def sync(self) -> None:
        self.storage.sync_sources([(s.id, s.url) for s in self.sources.values()], self.clock())

    async def poll_due(self) -> list[SourceReport]:
        """Start the sources whose next check has come; return the polls finished since.

        No cycle barrier: each due source is polled in its own task, so a portal that hangs or
        drips (up to `fetch.deadline`) never holds up the others. Called every second by the
        daemon. A source in flight is not started twice (nor by other daemons: its claim).
        """
        now = self.clock()
        # The claim outlives the longest poll (fetch.deadline, then its record at the next
        # tick), so no one polls it twice; no longer, since the claims of an instance killed
        # mid-poll hold its sources still until they run out (bench/chaos.py: a 10-minute
        # floor here froze every source a SIGKILLed daemon had claimed for 10 minutes).
        lease = timedelta(seconds=3 * self._deadline())
        # One hand-off a tick (_tick_storage): the outcomes queued since the last tick are
        # stored, a read finds what is due (most ticks: nothing) and one statement claims it.
        pending, busy = self.records.take(), frozenset(self._running)
        states, unhealthy, error = await aio.call(self._tick_storage, now, lease, busy, pending)
        for n, sid in enumerate(states, 1):
            task = asyncio.create_task(
                self._poll_one(self.sources[sid], states.get(sid)), name=f"poll:{sid}"
            )
            self._running[sid] = task
            task.add_done_callback(self._finished)
            if n % _START_SLICE == 0:
                await asyncio.sleep(0)
        self.records.stored(unhealthy)
        if error is not None:  # the outcomes not stored, or no claim made
            raise error
        done, self._done = self._done, []
        if not self._unpolled and not self._held_loaded:
            # A poll that ended during this tick's hand-off queued its outcome (its memory)
            # after take(): store it before reading what to hold, or that source is not held.
            await self.records.flush()
            self._held_loaded = True
            await self._hold_stored()
        self.workers.stop_if_idle()
        if done:
            self.last_cycle_at = self.clock()
        log_cycle(done, started=len(states), running=len(self._running))
        return done

    def _tick_storage(
        self, now: datetime, lease: timedelta, busy: frozenset[str], pending: list[Any]
    ) -> tuple[dict[str, Any], list[str], Exception | None]:
        """Storage thread: store the queued poll outcomes, then claim what is due and not in
        flight. Three hand-offs a second before (issue 11). Neither failure stops the other:
        the first is handed back, raised once the polls claimed have started."""
        unhealthy: list[str] = []
        states: dict[str, Any] = {}
        errors: list[Exception] = []
        try:
            unhealthy = self.records.store(pending, now)
        except Exception as exc:
            errors.append(exc)
        try:
            self.memory.learn_stored(self.sources)  # at the first tick only
            ready = self.storage.due_sources(now, among=self.sources)
            due = [sid for sid in ready if sid not in busy]
            states = self.storage.claim_due_sources(now, lease, due) if due else {}
        except Exception as exc:
            errors.append(exc)
        return states, unhealthy, errors[0] if errors else None

    async def _hold_stored(self) -> None:
        """Once the first wave is over: every source's stored memory, held compressed
        (SourceMemory.hold_stored), read in chunks so no one read holds thousands of texts."""
        ids, held = list(self.sources), 0
        for start in range(0, len(ids), _HOLD_CHUNK):
            chunk = ids[start : start + _HOLD_CHUNK]
            packed = await aio.call(self.memory.load_held, chunk)
            count = self.memory.hold_stored(packed)
            held += count
            if count < len(packed):  # HELD_BYTES reached
                break
        log.info("poll_memory_held", sources=held, bytes=self.memory.held_bytes)

    @property
    def in_flight(self) -> int:
        """Polls started and not yet finished."""
        return len(self._running)

    @property
    def polled_all(self) -> bool:
        """Every source has finished one poll since this poller started (its first wave)."""
        return not self._unpolled

    def _finished(self, task: asyncio.Task[SourceReport]) -> None:
        sid = task.get_name().removeprefix("poll:")
        self._unpolled.discard(sid)
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
        self.workers.close()
        await self.records.flush()

    async def poll(self, source_ids: Sequence[str] | None = None) -> list[SourceReport]:
        """Poll these sources now (all enabled ones by default), due or not, and wait for all.

        Each source is still bounded by `fetch.deadline`, so this ends in about that time.
        """
        ids = list(self.sources) if source_ids is None else list(source_ids)
        states = await aio.call(self._states, ids)
        reports = await asyncio.gather(
            *(
                self._poll_one(self.sources[sid], states.get(sid))
                for sid in ids
                if sid in self.sources
            )
        )
        await self.records.flush()
        self._unpolled.difference_update(ids)
        self.last_cycle_at = self.clock()
        log_cycle(list(reports), started=len(reports), running=0)
        return list(reports)

    def _states(self, ids: list[str]) -> dict[str, Any]:
        """poll()'s sources' states (blocking: the storage thread); and at a first poll, which
        sources have a stored memory, as at the daemon's first tick (_tick_storage)."""
        self.memory.learn_stored(self.sources)
        return self.storage.source_states(ids)

    def _deadline(self) -> float:
        return float(getattr(self.fetcher, "deadline", 60.0))

    async def _poll_one(self, source: SourceSettings, state: object) -> SourceReport:
        self._in_progress += 1
        try:
            async with self._slots:
                return await self._poll_one_now(source, state)
        finally:
            self._in_progress -= 1

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
            source.url, etag=etag, last_modified=last_modified, previous_hash=body_hash, now=now,
            deadline_at=until,
        )  # fmt: skip
        if not result.ok:
            return await self.records.failed(source, result, now, report, error_count, result.error)
        if result.not_modified:
            report.not_modified = 1
            clean = getattr(state, "clean", False)  # a claim knows; then recorded blind
            await self.records.record(
                source, result, now, ok=True, error_count=0, unchanged=True, clean=clean
            )
            return report
        report.fetched = 1
        await self.memory.restore(source.id)
        try:
            async with asyncio.timeout_at(until):
                parsed, hashes, expect = await self._parse_changed(source, result, now)
            outcome, stamp, guids, hashes = await self._store(
                source, result, now, report, until, (parsed, hashes, expect)
            )
        except TimeoutError:
            # A parse thread cannot be stopped; its result is dropped when it ends. The XML
            # guards (rss.py) keep any one document's parse short, so this is a last resort.
            error = f"deadline: fetch and parse took over {self._deadline():g} s (fetch.deadline)"
            return await self.records.failed(source, result, now, report, error_count, error)
        except Exception as exc:  # storage or a bug: recorded, never escapes into other sources
            error = f"ingest failed: {type(exc).__name__}: {exc}"
            log.error("source_ingest_failed", source=source.id,
                      error_class=type(exc).__name__, error=str(exc)[:300])  # fmt: skip
            self.memory.forget(source.id)
            return await self.records.failed(
                source, result, now, report, error_count, error, quiet=True
            )
        # Items left for the next poll must not hide behind validators, the body hash or the
        # remembered item digests: the next poll fetches and parses the whole document again.
        deferred = report.deferred > 0
        if outcome and not report.errors and not deferred:
            if stamp is None and source.kind != "json":  # nothing was written: read it
                stamp = await aio.call(self.storage.source_stamp, source.id)
            context = (result.final_url or source.url, source.agency_name)
            self.memory.remember_document(
                source.id, context, result.body, stamp, hashes, guids, items=source.kind != "json"
            )
        else:
            self.memory.forget_items(source.id)
        memory = self.memory.dump(source.id)
        members = self.memory.dump_members(source.id) if memory else None
        if not outcome:
            report.failed = True
            log.warning("source_parse_failed", source=source.id, error_class="parse",
                        error="; ".join(report.errors)[:300])  # fmt: skip
        await self.records.record(
            source, result, now, ok=outcome, error_count=0 if outcome else error_count + 1,
            error="; ".join(report.errors) or None, validators=not deferred,
            had_new=report.new > 0, memory=memory, members=members,
        )  # fmt: skip
        # That memory is now in the poll record (stored at the next tick): hold none of its
        # objects; after the first wave, its compact text (SourceMemory.release).
        keep = (memory, members or "") if memory and not self._unpolled else None
        self.memory.release(source.id, keep)
        return report

    async def _parse_changed(
        self, source: SourceSettings, result: FetchResult, now: datetime
    ) -> tuple[ParseResult | Prepared, list[bytes] | None, Any]:
        """Parse only the items not already stored, when the feed splits cleanly into items.
        Also returns the hashes of every item when trimming computed them (else None), and
        the stamp the trimming assumed (else None): _store checks it before storing."""
        context = (result.final_url or source.url, source.agency_name)
        known = self.memory.known_items(source.id, context)
        trimmed = trim(result.body, known[1]) if source.kind != "json" and known else None
        if trimmed is not None and known is not None:
            doc = dataclasses.replace(result, body=trimmed[0])
            parsed = await self._parse(source, doc, now, whole=False)
            if not parsed.error:
                return parsed, trimmed[1], known[0]
            # The trimmed document did not parse cleanly: trust only the whole one.
        return await self._parse(source, result, now, whole=True), None, None

    async def _parse(
        self, source: SourceSettings, result: FetchResult, now: datetime, *, whole: bool
    ) -> ParseResult | Prepared:
        """Where a document is parsed (docs/benchmarks.md measured each choice):
        - in the worker process, a whole document (a first poll, a source with nothing
          remembered) or a big one, while many polls are in progress (a first poll of many
          feeds; parse_workers.START_AT): parsed, normalised and classified there, on the
          other core (sources/prepare.py);
        - on the loop, the new items of a changed feed (small: a hand-off costs more);
        - in a thread, a big document when there is no worker."""
        size = len(result.body)
        big = size > _INLINE_BYTES
        if (whole or big) and size <= _WORKER_MAX_BYTES and self.workers.wanted(self._in_progress):
            prepared = await self.workers.prepare(source, result, now)
            if prepared is not None:
                return prepared
            # The worker died (logged by workers.run): this document is parsed here instead.
        if not big:
            return _parse(source, result)
        return await asyncio.to_thread(_parse, source, result)


__all__ = ["Poller", "SourceReport", "utcnow"]
