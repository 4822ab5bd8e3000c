"""Articles: add with de-duplication and change detection, list, fetch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update

from syndicator.storage.base import Event, StorageBase
from syndicator.storage.lookups import Lookups, read_lookups, read_roots, stamp, stamp_after
from syndicator.storage.models import ArticleRow, article_of
from syndicator.storage.plan_batch import PlanHook, plan_fresh, render_fresh, write_fresh_many
from syndicator.types import Article

_T = cast(Table, ArticleRow.__table__)
_CHUNK = 500  # keeps IN (...) lists well under every backend's parameter limit
# Built once: constructing a statement cost more than running it on a one-article feed.
_KNOWN = select(
    _T.c.guid,
    _T.c.id,
    _T.c.content_hash,
    _T.c.version,
    _T.c.duplicate_of,
    _T.c.first_seen_at,
    _T.c.canonical_url,
    _T.c.fingerprint,
).where(_T.c.source_id == bindparam("source"), _T.c.guid.in_(bindparam("guids", expanding=True)))
_INSERT = insert(_T).returning(_T.c.id, sort_by_parameter_order=True)


@dataclass(slots=True)
class IngestResult:
    new: list[Article] = field(default_factory=list)
    duplicates: list[Article] = field(default_factory=list)
    changed: list[Article] = field(default_factory=list)
    unchanged: int = 0
    # Guids of new articles not stored because of max_new: they wait for the next poll.
    deferred: list[str] = field(default_factory=list)
    # The source's stamp (see Storage.source_stamp) as this write left it; None: no write.
    stamp: tuple[int, Any] | None = None
    # add_articles(expect=...) found another stamp: nothing was written.
    stale: bool = False
    # add_articles(plan=...): how many of the new articles were planned in its transaction,
    # and whether one of their posts came out ready to go (auto-approved).
    planned: int = 0
    sendable: bool = False


class ArticlesMixin(StorageBase):
    def add_articles(
        self,
        source_id: str,
        articles: Sequence[Article],
        now: datetime,
        *,
        max_new: int | None = None,
        announce_flood: bool = True,
        expect: tuple[int, Any] | None = None,
        plan: PlanHook | None = None,
        lookups: Lookups | None = None,
    ) -> IngestResult:
        """Store a source's articles; return only what is new, duplicate or changed.

        At most `max_new` unknown guids are stored (in the order given); the others are
        returned as `deferred`, stored by a later call. When some are deferred and
        `announce_flood`, one "source.flood" audit event (an admin alert) says so.

        Known (source, guid) with the same content hash: nothing. With another hash: updated in
        place and audited as changed. Unknown guid whose canonical URL or fingerprint is already
        stored (any source): stored with duplicate_of pointing at the first. Else: new.

        Written with Core statements (multi-row INSERT ... RETURNING, no ORM unit of work): the
        ORM's per-row bookkeeping was most of the cost of storing a changed feed.

        `expect`: the stamp the caller's articles assume (a feed trimmed against the poller's
        memory); when the source's stamp is another, nothing is written and `stale` is set.
        `lookups`: the batch's reads (storage/lookups.py), when the caller made them.
        """
        result = IngestResult()
        if not articles:
            return result
        batch = _unique_by_guid(articles)
        pre = lookups if lookups is not None and lookups.covers(source_id, batch) else None
        with self._write_core() as conn:
            before = None
            if expect is not None:
                before = pre.stamp(source_id) if pre else stamp(conn, source_id)
                if before != expect:
                    result.stale = True
                    return result
            guids = [a.guid for a in batch]
            known = pre.known_of(source_id, guids) if pre else self._known(conn, source_id, guids)
            fresh = [a for a in batch if a.guid not in known]
            if max_new is not None and len(fresh) > max_new:
                result.deferred = [a.guid for a in fresh[max_new:]]
                fresh = fresh[:max_new]
            urls, fps = [a.canonical_url for a in fresh], [a.fingerprint for a in fresh]
            by_url, by_fp = pre.roots(urls, fps) if pre else read_roots(conn, urls, fps)
            events: list[Event] = []
            moved = False  # an article changed in place took another URL or fingerprint

            for article in batch:
                row = known.get(article.guid)
                if row is None:
                    continue
                if row.content_hash == article.content_hash:
                    result.unchanged += 1
                    continue
                version = row.version + 1
                moved = moved or (row.canonical_url, row.fingerprint) != (
                    article.canonical_url,
                    article.fingerprint,
                )
                conn.execute(
                    update(_T)
                    .where(_T.c.id == row.id)
                    .values(**_values(article, now), version=version)
                )
                result.changed.append(
                    _stored(article, source_id, row.id, row.duplicate_of, row.first_seen_at)
                )
                events.append(
                    (
                        "article.changed",
                        "poller",
                        f"article:{row.id}",
                        {
                            "source": source_id,
                            "guid": article.guid,
                            "old_hash": row.content_hash,
                            "new_hash": article.content_hash,
                            "version": version,
                        },
                    )
                )

            # Originals first so in-batch duplicates can point at their ids.
            originals: list[tuple[Article, int | None]] = []
            later: list[Article] = []
            pending_urls: set[str] = set()
            pending_fps: set[str] = set()
            for article in fresh:
                root = by_url.get(article.canonical_url) or by_fp.get(article.fingerprint)
                if root is None and (
                    article.canonical_url in pending_urls or article.fingerprint in pending_fps
                ):
                    later.append(article)
                    continue
                originals.append((article, root))
                if root is None:
                    pending_urls.add(article.canonical_url)
                    pending_fps.add(article.fingerprint)
            # Originals about to be planned in this transaction are inserted as planned: no
            # UPDATE after planning (plan_fresh). One whose copy below brings the image it
            # lacks gets its version raised by that copy, so it waits for Publisher.plan.
            stored = self._insert(conn, source_id, originals, now, planned=plan is not None)
            ids_by_url: dict[str, int] = {}
            ids_by_fp: dict[str, int] = {}
            for a in stored:
                if a.duplicate_of is None:
                    assert a.id is not None
                    ids_by_url.setdefault(a.canonical_url, a.id)
                    ids_by_fp.setdefault(a.fingerprint, a.id)
            stored += self._insert(
                conn,
                source_id,
                [
                    (a, ids_by_url.get(a.canonical_url) or ids_by_fp.get(a.fingerprint))
                    for a in later
                ],
                now,
                planned=plan is not None,
            )

            for a in stored:
                (result.new if a.duplicate_of is None else result.duplicates).append(a)
                events.append(_stored_event(source_id, a))
            # A copy from another source carries an image its original lacks: re-plan the
            # original, so posts still waiting re-render with the best image any copy has.
            better = {a.duplicate_of for a in stored if a.duplicate_of is not None and a.image_url}
            if better:
                conn.execute(
                    update(_T)
                    .where(_T.c.id.in_(sorted(better)), _T.c.image_url.is_(None))
                    .values(version=_T.c.version + 1, updated_at=now)
                )
            if result.deferred and announce_flood:
                events.append(
                    (
                        "source.flood",
                        "poller",
                        source_id,
                        {
                            "stored": len(fresh),
                            "deferred": len(result.deferred),
                            "max_new_per_poll": max_new,
                        },
                    )
                )
            entries: list[Any] = []
            if plan is not None:  # the new originals planned in this transaction
                # Not those whose version a copy just raised (no image of their own).
                fresh_originals = [
                    a for a in result.new if a.id not in better or a.image_url is not None
                ]
                result.planned = len(fresh_originals)
                if lookups is not None:  # their posts written with the batch's (finish_lookups)
                    entries, result.sendable = render_fresh(fresh_originals, now, plan)
                else:
                    planned, result.sendable = plan_fresh(conn, fresh_originals, now, plan)
                    events += planned
            if lookups is not None:
                lookups.pending.append((events, entries, now))
            else:
                self._audit_soon(conn, events, now)
            written = len(stored) + len(result.changed)
            if before is not None and not better:
                result.stamp = stamp_after(before, written, len(stored), now)
            else:  # a copy's image may have touched this source's originals: read it
                result.stamp = stamp(conn, source_id)
        if lookups is not None:
            lookups.stored(source_id, stored, moved=moved, better=bool(better))
        return result

    def batch_lookups(self, feeds: Sequence[tuple[str, Sequence[Article]]]) -> Lookups | None:
        """What add_articles would read for each of these feeds, read once for all, in the
        transaction of `writing()` (storage/lookups.py); None when it cannot answer them.
        The posts and audit events of the feeds stored with them are written when that
        transaction ends (finish_lookups)."""
        if getattr(self._local, "conn", None) is None:
            raise RuntimeError("batch_lookups() belongs inside storage.writing()")
        with self._write_core() as conn:
            found = read_lookups(conn, feeds)
        if found is not None:
            self._local.finish.append(lambda: self.finish_lookups(found))
        return found

    def finish_lookups(self, lookups: Lookups | None) -> None:
        """At the end of a batch stored with `lookups` (writing() calls it; earlier is fine):
        the posts of its feeds' new originals in one INSERT, then each feed's audit events,
        in feed order."""
        if lookups is None or not lookups.pending:
            return
        pending, lookups.pending = lookups.pending, []
        with self._write_core() as conn:
            posts = write_fresh_many(conn, [(entries, at) for _, entries, at in pending])
            for (events, _, at), created in zip(pending, posts, strict=True):
                self._audit_soon(conn, [*events, *created], at)

    def source_stamp(self, source_id: str) -> tuple[int, Any]:
        """(row count, latest update) of a source's articles: changes whenever anyone writes them."""
        with self._read_conn() as conn:
            return stamp(conn, source_id)

    def content_hashes(self, source_id: str, guids: Sequence[str]) -> dict[str, str]:
        """The stored content hash of each of these guids of a source that is stored."""
        if not guids:
            return {}
        with self._read() as session:
            conn = session.connection()
            return {
                guid: row.content_hash
                for guid, row in self._known(conn, source_id, list(guids)).items()
            }

    def _known(self, conn: Any, source_id: str, guids: list[str]) -> dict[str, Any]:
        """guid -> (id, content_hash, version, duplicate_of, first_seen_at) of stored rows."""
        out: dict[str, Any] = {}
        for start in range(0, len(guids), _CHUNK):
            params = {"source": source_id, "guids": guids[start : start + _CHUNK]}
            out.update({row.guid: row for row in conn.execute(_KNOWN, params)})
        return out

    def _insert(
        self,
        conn: Any,
        source_id: str,
        rows: list[tuple[Article, int | None]],
        now: datetime,
        *,
        planned: bool = False,
    ) -> list[Article]:
        """INSERT the rows in one statement; the stored Articles, ids filled, in order.
        `planned`: the originals are marked planned (their posts are written by the caller's
        transaction, plan_fresh)."""
        if not rows:
            return []
        params = [
            {
                "source_id": source_id,
                "guid": a.guid,
                "first_seen_at": now,
                "version": 1,
                "planned_version": 1 if planned and root is None else 0,
                "duplicate_of": root,
                **_values(a, now),
            }
            for a, root in rows
        ]
        ids = conn.execute(_INSERT, params).scalars().all()
        return [
            _stored(a, source_id, id_, root, now) for (a, root), id_ in zip(rows, ids, strict=True)
        ]

    def get_article(self, article_id: int) -> Article | None:
        with self._read() as session:
            row = session.get(ArticleRow, article_id)
            return article_of(row) if row else None

    def list_articles(
        self,
        *,
        since: datetime | None = None,
        source_id: str | None = None,
        limit: int | None = None,
        include_duplicates: bool = True,
    ) -> list[Article]:
        query = select(ArticleRow).order_by(ArticleRow.id)
        if since is not None:
            query = query.where(ArticleRow.first_seen_at >= since)
        if source_id is not None:
            query = query.where(ArticleRow.source_id == source_id)
        if not include_duplicates:
            query = query.where(ArticleRow.duplicate_of.is_(None))
        if limit is not None:
            query = query.limit(limit)
        with self._read() as session:
            return [article_of(row) for row in session.scalars(query)]

    def count_articles(self) -> int:

        with self._read() as session:
            return int(session.scalar(select(func.count(ArticleRow.id))) or 0)


def _stored_event(source_id: str, a: Article) -> tuple[str, str, str, dict[str, Any]]:
    """The audit event of a stored article: new (an original) or duplicate."""
    data: dict[str, Any]
    if a.duplicate_of is None:
        data = {
            "source": source_id, "guid": a.guid, "url": a.canonical_url,
            "content_hash": a.content_hash, "categories": list(a.categories),
            "flags": sorted(a.flags),
        }  # fmt: skip
        return "article.new", "poller", f"article:{a.id}", data
    data = {"source": source_id, "guid": a.guid, "url": a.canonical_url,
            "duplicate_of": a.duplicate_of}  # fmt: skip
    return "article.duplicate", "poller", f"article:{a.id}", data


def _unique_by_guid(articles: Sequence[Article]) -> list[Article]:
    seen: dict[str, Article] = {}
    for article in articles:
        seen.setdefault(article.guid, article)
    return list(seen.values())


def _values(a: Article, now: datetime) -> dict[str, Any]:
    """The column values an article sets (on insert and on change)."""
    return {
        "url": a.url,
        "canonical_url": a.canonical_url,
        "title": a.title,
        "summary": a.summary,
        "content_html": a.content_html,
        "content_text": a.content_text,
        "image_url": a.image_url,
        "published_at": a.published_at,
        "agency": a.agency,
        "source_categories": list(a.source_categories),
        "categories": list(a.categories),
        "flags": sorted(a.flags),
        "secrecy_marker": a.secrecy_marker,
        "content_hash": a.content_hash,
        "fingerprint": a.fingerprint,
        "updated_at": now,
    }


def _stored(
    a: Article,
    source_id: str,
    id_: int,
    duplicate_of: int | None,
    first_seen_at: datetime,
) -> Article:
    """The Article as stored: what article_of() would read back from its row."""
    return replace(
        a,
        source_id=source_id,
        id=id_,
        duplicate_of=duplicate_of,
        first_seen_at=first_seen_at,
        flags=frozenset(a.flags),
    )
