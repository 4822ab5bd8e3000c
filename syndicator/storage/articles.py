"""Articles: add with de-duplication and change detection, list, fetch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from syndicator.storage.base import StorageBase
from syndicator.storage.models import ArticleRow
from syndicator.types import Article

_CHUNK = 500  # keeps IN (...) lists well under every backend's parameter limit


@dataclass(slots=True)
class IngestResult:
    new: list[Article] = field(default_factory=list)
    duplicates: list[Article] = field(default_factory=list)
    changed: list[Article] = field(default_factory=list)
    unchanged: int = 0


class ArticlesMixin(StorageBase):
    def add_articles(
        self, source_id: str, articles: Sequence[Article], now: datetime
    ) -> IngestResult:
        """Store a source's articles; return only what is new, duplicate or changed.

        Known (source, guid) with the same content hash: nothing. With another hash: updated in
        place and audited as changed. Unknown guid whose canonical URL or fingerprint is already
        stored (any source): stored with duplicate_of pointing at the first. Else: new.
        """
        result = IngestResult()
        if not articles:
            return result
        batch = _unique_by_guid(articles)
        with self._write() as session:
            known = self._by_guid(session, source_id, [a.guid for a in batch])
            fresh = [a for a in batch if a.guid not in known]
            by_url = self._roots(
                session, ArticleRow.canonical_url, [a.canonical_url for a in fresh]
            )
            by_fp = self._roots(session, ArticleRow.fingerprint, [a.fingerprint for a in fresh])
            events: list[tuple[str, str, str | None, dict[str, Any] | None]] = []

            for article in batch:
                row = known.get(article.guid)
                if row is None:
                    continue
                if row.content_hash == article.content_hash:
                    result.unchanged += 1
                    continue
                old_hash = row.content_hash
                _fill(row, article, now)
                row.version += 1
                result.changed.append(_article(row))
                events.append(
                    (
                        "article.changed",
                        "poller",
                        f"article:{row.id}",
                        {
                            "source": source_id,
                            "guid": article.guid,
                            "old_hash": old_hash,
                            "new_hash": article.content_hash,
                            "version": row.version,
                        },
                    )
                )

            # Originals first so in-batch duplicates can point at their ids.
            originals: list[tuple[Article, ArticleRow]] = []
            later: list[tuple[Article, str, str]] = []
            pending_urls: dict[str, Article] = {}
            pending_fps: dict[str, Article] = {}
            for article in fresh:
                root = by_url.get(article.canonical_url) or by_fp.get(article.fingerprint)
                if root is None and (
                    article.canonical_url in pending_urls or article.fingerprint in pending_fps
                ):
                    later.append((article, article.canonical_url, article.fingerprint))
                    continue
                row = ArticleRow(
                    source_id=source_id,
                    guid=article.guid,
                    first_seen_at=now,
                    version=1,
                    duplicate_of=root,
                )
                _fill(row, article, now)
                originals.append((article, row))
                if root is None:
                    pending_urls.setdefault(article.canonical_url, article)
                    pending_fps.setdefault(article.fingerprint, article)
            session.add_all([row for _, row in originals])
            session.flush()
            ids_by_url = {r.canonical_url: r.id for _, r in originals if r.duplicate_of is None}
            ids_by_fp = {r.fingerprint: r.id for _, r in originals if r.duplicate_of is None}
            rows_later = []
            for article, url, fp in later:
                row = ArticleRow(
                    source_id=source_id,
                    guid=article.guid,
                    first_seen_at=now,
                    version=1,
                    duplicate_of=ids_by_url.get(url) or ids_by_fp.get(fp),
                )
                _fill(row, article, now)
                rows_later.append(row)
            session.add_all(rows_later)
            session.flush()

            for row in [r for _, r in originals] + rows_later:
                stored = _article(row)
                if row.duplicate_of is None:
                    result.new.append(stored)
                    events.append(
                        (
                            "article.new",
                            "poller",
                            f"article:{row.id}",
                            {
                                "source": source_id,
                                "guid": row.guid,
                                "url": row.canonical_url,
                                "content_hash": row.content_hash,
                                "categories": row.categories,
                                "flags": row.flags,
                            },
                        )
                    )
                else:
                    result.duplicates.append(stored)
                    events.append(
                        (
                            "article.duplicate",
                            "poller",
                            f"article:{row.id}",
                            {
                                "source": source_id,
                                "guid": row.guid,
                                "url": row.canonical_url,
                                "duplicate_of": row.duplicate_of,
                            },
                        )
                    )
            self._audit_many(session, events, now)
        return result

    def _by_guid(self, session: Any, source_id: str, guids: list[str]) -> dict[str, ArticleRow]:
        out: dict[str, ArticleRow] = {}
        for start in range(0, len(guids), _CHUNK):
            chunk = guids[start : start + _CHUNK]
            query = select(ArticleRow).where(
                ArticleRow.source_id == source_id, ArticleRow.guid.in_(chunk)
            )
            out.update({row.guid: row for row in session.scalars(query)})
        return out

    def _roots(self, session: Any, column: Any, values: list[str]) -> dict[str, int]:
        """Map each value to the id of the first article carrying it (its root original)."""
        out: dict[str, int] = {}
        wanted = sorted({v for v in values if v})
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            query = (
                select(column, ArticleRow.id, ArticleRow.duplicate_of)
                .where(column.in_(chunk))
                .order_by(ArticleRow.id)
            )
            for value, id_, dup in session.execute(query):
                out.setdefault(value, dup or id_)
        return out

    def get_article(self, article_id: int) -> Article | None:
        with self._read() as session:
            row = session.get(ArticleRow, article_id)
            return _article(row) if row else None

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
            return [_article(row) for row in session.scalars(query)]

    def count_articles(self) -> int:
        from sqlalchemy import func

        with self._read() as session:
            return int(session.scalar(select(func.count(ArticleRow.id))) or 0)


def _unique_by_guid(articles: Sequence[Article]) -> list[Article]:
    seen: dict[str, Article] = {}
    for article in articles:
        seen.setdefault(article.guid, article)
    return list(seen.values())


def _fill(row: ArticleRow, a: Article, now: datetime) -> None:
    row.url, row.canonical_url, row.title = a.url, a.canonical_url, a.title
    row.summary, row.content_html, row.content_text = a.summary, a.content_html, a.content_text
    row.image_url, row.published_at, row.agency = a.image_url, a.published_at, a.agency
    row.source_categories, row.categories = list(a.source_categories), list(a.categories)
    row.flags, row.secrecy_marker = sorted(a.flags), a.secrecy_marker
    row.content_hash, row.fingerprint, row.updated_at = a.content_hash, a.fingerprint, now


def _article(row: ArticleRow) -> Article:
    return Article(
        id=row.id,
        source_id=row.source_id,
        guid=row.guid,
        url=row.url,
        canonical_url=row.canonical_url,
        title=row.title,
        summary=row.summary,
        content_html=row.content_html,
        content_text=row.content_text,
        image_url=row.image_url,
        published_at=row.published_at,
        agency=row.agency,
        source_categories=tuple(row.source_categories or ()),
        categories=tuple(row.categories or ()),
        flags=frozenset(row.flags or ()),
        secrecy_marker=row.secrecy_marker,
        content_hash=row.content_hash,
        fingerprint=row.fingerprint,
        duplicate_of=row.duplicate_of,
        first_seen_at=row.first_seen_at,
    )
