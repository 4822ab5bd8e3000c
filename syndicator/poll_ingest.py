"""Storing what a changed feed's poll parsed: the poller's half that runs on the storage thread.

`_store` hands a parsed document to `_ingest` on the storage thread; `_ingest` normalises and
classifies what was not prepared already, leaves out what the poller's memory shows is stored
unchanged, and stores the rest (add_articles), with the flood cap. Kept apart from poller.py,
which schedules, fetches and parses.
"""

from __future__ import annotations

import asyncio
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
from syndicator.storage.plan_batch import PlanHook
from syndicator.types import ParseResult

if TYPE_CHECKING:
    from collections.abc import Callable

log = structlog.get_logger("syndicator.poller")


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
        stored = await aio.call(self._ingest, source, result, now, report, doc, expect)
        if stored is not None:
            return (*stored, hashes)
        async with asyncio.timeout_at(until):
            whole = await self._parse(source, result, now, whole=True)
        stored = await aio.call(self._ingest, source, result, now, report, whole)
        assert stored is not None  # no stamp to check
        return (*stored, None)

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
        # The stamp is checked in add_articles' own write transaction (no read of its own, and
        # no write between the check and the insert); with nothing to add, by a read.
        if expect is not None and not articles and self.storage.source_stamp(source.id) != expect:
            return None
        cap = self.poll_settings.max_new_per_poll
        stored = self.storage.add_articles(
            source.id,
            [a for _, a in articles],
            now,
            max_new=cap,
            announce_flood=source.id not in self._flooding,
            expect=expect,
            plan=self.planner,
        )
        if stored.stale:
            return None
        # Only now, so a document sent to a whole parse (stale) does not count twice.
        if parsed.error:
            report.errors.append(f"parse: {parsed.error}")
        report.errors.extend(error for _, error in errors)
        guids: list[str | None] = [skipped.get(i) for i in range(count)]
        for i, a in articles:
            guids[i] = a.guid
        if not articles and not skipped and parsed.error:
            return False, None, guids
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
        report.unplanned = len(stored.new) - stored.planned
        report.sendable = stored.sendable
        if self.keep_new_articles:
            report.new_articles = stored.new
        self.memory.remember_entries(source.id, context, digests, skipped, articles)
        return True, stored.stamp, guids
