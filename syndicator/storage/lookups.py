"""What add_articles reads before it writes, read once for the changed feeds of one batch.

Storing a changed feed reads three things before it writes: the source's stamp (to check the
poller's memory still holds), which of its guids are stored, and the first article carrying
each canonical URL or fingerprint (its root, for duplicates). The poller stores the changed
feeds of a moment in one transaction (poll_ingest.py, `_ingest_many`): read feed by feed, that
was three statements a feed, ~150 us each inside the daemon for a one-item feed (issue 11,
docs/benchmarks.md). `read_lookups` asks each question once for the whole batch, in the batch's
transaction, and `Lookups` answers add_articles from it.

Exactly what the reads would give, or nothing: the articles a feed stores are added to the
roots (in id order, as the read orders them), so a later feed of the batch finds an earlier
one's article as a read would. A write the maps cannot follow (an article changed in place
that took another URL or fingerprint; a copy's image bumping another source's rows) ends
them (`live`): the feeds after it read for themselves. A source, guid, URL or fingerprint not
asked for is answered by a read, too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select

from syndicator.storage.models import ArticleRow
from syndicator.types import Article

_T = cast(Table, ArticleRow.__table__)
_CHUNK = 500  # keeps IN (...) lists well under every backend's parameter limit

# count(*), not count(id): with ix_articles_source_updated the stamp is read from the index
# alone (PostgreSQL too: id is not in that index).
STAMP = select(func.count(), func.max(ArticleRow.updated_at)).where(
    ArticleRow.source_id == bindparam("source")
)
_STAMPS = (
    select(ArticleRow.source_id, func.count(), func.max(ArticleRow.updated_at))
    .where(ArticleRow.source_id.in_(bindparam("sources", expanding=True)))
    .group_by(ArticleRow.source_id)
)
ROOTS = (
    select(_T.c.canonical_url, _T.c.fingerprint, _T.c.id, _T.c.duplicate_of)
    .where(
        or_(
            _T.c.canonical_url.in_(bindparam("urls", expanding=True)),
            _T.c.fingerprint.in_(bindparam("fps", expanding=True)),
        )
    )
    .order_by(_T.c.id)
)
_KNOWN_MANY = select(
    _T.c.source_id, _T.c.guid, _T.c.id, _T.c.content_hash, _T.c.version, _T.c.duplicate_of,
    _T.c.first_seen_at, _T.c.canonical_url, _T.c.fingerprint,
).where(
    _T.c.source_id.in_(bindparam("sources", expanding=True)),
    _T.c.guid.in_(bindparam("guids", expanding=True)),
)  # fmt: skip


def stamp(conn: Any, source_id: str) -> tuple[int, Any]:
    """(row count, latest update) of a source's articles (Storage.source_stamp)."""
    row = conn.execute(STAMP, {"source": source_id}).one()
    return int(row[0]), row[1]


def stamp_after(before: tuple[int, Any], written: int, inserted: int, now: datetime) -> Any:
    """The stamp a read would give after this transaction wrote `written` of the source's
    rows (`inserted` of them new), each with updated_at = now: one statement less per
    changed feed (tests/storage/test_articles_store.py checks it against the read)."""
    count, latest = before
    if not written:
        return before
    now = now.astimezone(UTC)
    return count + inserted, now if latest is None else max(latest, now)


@dataclass(slots=True)
class Lookups:
    """The batch's answers. `sources`, `guids`, `urls`, `fps`: what was asked."""

    sources: set[str]
    guids: dict[str, set[str]]
    urls: set[str]
    fps: set[str]
    stamps: dict[str, tuple[int, Any]] = field(default_factory=dict)
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_url: dict[str, int] = field(default_factory=dict)
    by_fp: dict[str, int] = field(default_factory=dict)
    live: bool = True
    # Per feed, in order: its audit events so far, its new originals' rendered plans and its
    # time. Written by Storage.finish_lookups at the batch's end: the posts of every feed in
    # one INSERT, and each feed's events then, in feed order (the same trail as feed by feed).
    pending: list[tuple[list[Any], list[Any], datetime]] = field(default_factory=list)

    def covers(self, source_id: str, articles: Sequence[Article]) -> bool:
        """Whether this feed's reads can be answered here."""
        if not self.live or source_id not in self.sources:
            return False
        asked = self.guids.get(source_id, set())
        return all(
            a.guid in asked
            and (not a.canonical_url or a.canonical_url in self.urls)
            and (not a.fingerprint or a.fingerprint in self.fps)
            for a in articles
        )

    def stamp(self, source_id: str) -> tuple[int, Any]:
        return self.stamps.get(source_id, (0, None))

    def known_of(self, source_id: str, guids: Sequence[str]) -> dict[str, Any]:
        rows = self.known.get(source_id, {})
        return {guid: rows[guid] for guid in guids if guid in rows}

    def roots(
        self, urls: Sequence[str], fps: Sequence[str]
    ) -> tuple[dict[str, int], dict[str, int]]:
        by_url = {u: self.by_url[u] for u in urls if u in self.by_url}
        return by_url, {f: self.by_fp[f] for f in fps if f in self.by_fp}

    def stored(
        self, source_id: str, stored: Sequence[Article], *, moved: bool, better: bool
    ) -> None:
        """After a feed's write: its new rows join the roots (as the read would find them:
        the first by id, an original's own id or a copy's original). A write the maps do not
        follow ends them: an article changed in place that took another URL or fingerprint
        (`moved`), a copy's image bumping another source's rows (`better`)."""
        self.sources.discard(source_id)  # its stamp and known rows are no longer what was read
        if moved or better:
            self.live = False
            return
        for a in stored:  # in id order: originals, then the copies of this feed
            root = a.duplicate_of or a.id
            assert root is not None
            if a.canonical_url in self.urls:
                self.by_url.setdefault(a.canonical_url, root)
            if a.fingerprint in self.fps:
                self.by_fp.setdefault(a.fingerprint, root)


def read_lookups(conn: Any, feeds: Sequence[tuple[str, Sequence[Article]]]) -> Lookups | None:
    """One read of each kind for these feeds' articles (each source once); None when a source
    comes twice (its second feed must see the first's writes: both read for themselves)."""
    sources = [source_id for source_id, _ in feeds]
    if len(set(sources)) != len(sources):
        return None
    guids = {source_id: {a.guid for a in articles} for source_id, articles in feeds}
    urls = {a.canonical_url for _, articles in feeds for a in articles if a.canonical_url}
    fps = {a.fingerprint for _, articles in feeds for a in articles if a.fingerprint}
    found = Lookups(set(sources), guids, urls, fps)
    for source_id, count, latest in conn.execute(_STAMPS, {"sources": sources}):
        found.stamps[source_id] = (int(count), latest)
    all_guids = sorted({g for wanted in guids.values() for g in wanted})
    for start in range(0, len(all_guids), _CHUNK):
        params = {"sources": sources, "guids": all_guids[start : start + _CHUNK]}
        for row in conn.execute(_KNOWN_MANY, params):
            if row.guid in guids[row.source_id]:
                found.known.setdefault(row.source_id, {})[row.guid] = row
    found.by_url, found.by_fp = read_roots(conn, sorted(urls), sorted(fps))
    return found


def read_roots(
    conn: Any, urls: Sequence[str], fingerprints: Sequence[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Map each canonical URL and each fingerprint to the id of the first article carrying
    it (its root original), in one query per chunk."""
    by_url: dict[str, int] = {}
    by_fp: dict[str, int] = {}
    want_urls = sorted({v for v in urls if v})
    want_fps = sorted({v for v in fingerprints if v})
    for start in range(0, max(len(want_urls), len(want_fps)), _CHUNK):
        chunk_urls = want_urls[start : start + _CHUNK]
        chunk_fps = want_fps[start : start + _CHUNK]
        rows = conn.execute(ROOTS, {"urls": chunk_urls, "fps": chunk_fps})
        wanted_urls, wanted_fps = set(chunk_urls), set(chunk_fps)
        for url, fp, id_, dup in rows:
            if url in wanted_urls:
                by_url.setdefault(url, dup or id_)
            if fp in wanted_fps:
                by_fp.setdefault(fp, dup or id_)
    return by_url, by_fp
