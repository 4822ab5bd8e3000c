"""The batch's reads (storage/lookups.py) give add_articles exactly what its own reads would.

Random batches of changed feeds with everything that makes the reads matter: copies across
sources and across the feeds of one batch (by URL and by fingerprint), articles changed in
place, copies bringing an image their original lacks, stale stamps. Each batch is stored once
with the lookups and once, on another database, feed by feed with the reads of its own: the
rows, the results, the posts planned as stored and the audit trail must be the same.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from syndicator.storage import PostPlan, Storage, open_storage
from syndicator.storage.models import ArticleRow, PostRow
from syndicator.types import Article, Post, PostStatus

SOURCES = [f"s{i}" for i in range(5)]


def _article(
    source: str, guid: str, url: int, fp: int, body: int, image: bool, now: Any
) -> Article:
    return Article(
        source_id=source, guid=guid, url=f"https://so.gov.vn/tin/{url}",
        canonical_url=f"https://so.gov.vn/tin/{url}", title=f"Thông báo {url}",
        summary="Tóm tắt.", content_html="<p>Nội dung.</p>", content_text=f"Nội dung {body}.",
        image_url=f"https://so.gov.vn/anh/{url}.jpg" if image else None, published_at=now,
        agency="UBND tỉnh", categories=("tin_tuc",), content_hash=f"h{guid}-{body}",
        fingerprint=f"fp{fp}",
    )  # fmt: skip


def _batches(seed: int, now: Any, *, steady: bool) -> list[list[tuple[str, list[Article], bool]]]:
    """Batches of (source, articles, whether to pass the stamp read before the batch).
    `steady`: as a daemon mostly sees them (a guid keeps its URL, few images, mostly new
    items, copies across sources); else anything goes (a guid may come back at another URL,
    many copies bring images): most batches then end their lookups early."""
    rng = random.Random(seed)
    batches = []
    for b in range(12):
        when = now + timedelta(minutes=b)
        sources = rng.sample(SOURCES, rng.randint(1, len(SOURCES)))
        feeds = []
        for source in sources:
            articles = []
            for _ in range(rng.randint(1, 4)):
                if steady:
                    g = rng.randint(0, 40)
                    guid, n, fp, image = f"{source}-g{g}", g % 25, g % 25, False
                else:
                    n = rng.randint(0, 14)  # a small pool: guids come back, URLs, fps shared
                    guid, fp = f"{source}-g{rng.randint(0, 6)}", rng.choice([n, n + 1, 99])
                    image = rng.random() < 0.3
                articles.append(
                    _article(source, guid, url=n, fp=fp, body=rng.randint(0, 2), image=image,
                             now=when)
                )  # fmt: skip
            feeds.append((source, articles, rng.random() < 0.5))
        batches.append(feeds)
    return batches


def _rows(storage: Storage) -> list[tuple[Any, ...]]:
    with storage.engine.connect() as conn:
        table = ArticleRow.__table__
        return [
            (r.id, r.source_id, r.guid, r.duplicate_of, r.version, r.planned_version,
             r.content_hash, r.canonical_url, r.fingerprint, r.image_url, str(r.updated_at))
            for r in conn.execute(table.select().order_by(table.c.id))
        ]  # fmt: skip


def _trail(storage: Storage) -> list[tuple[Any, ...]]:
    return [(e.kind, e.subject, e.data) for e in storage.audit_events_after(0)[0]]


def _summary(result: Any) -> tuple[Any, ...]:
    return (
        [a.id for a in result.new], [(a.id, a.duplicate_of) for a in result.duplicates],
        [a.id for a in result.changed], result.unchanged, result.deferred, result.stamp,
        result.stale,
    )  # fmt: skip


def _plan(article: Article, now: Any) -> tuple[list[PostPlan], str | None]:
    """A plan hook as Publisher.plan_one gives: a post per channel, or none with a reason."""
    if article.content_text.endswith("2."):
        return [], "no channel takes it"
    status = PostStatus.APPROVED if article.image_url else PostStatus.PENDING
    plans = [
        PostPlan(Post(channel=c, article_id=None, payload={"m": f"{c} {article.title}"},
                      preview_text=article.title, marker=c), status)
        for c in ("facebook", "zalo")
    ]  # fmt: skip
    return plans, None


def _posts(storage: Storage) -> list[tuple[Any, ...]]:
    with storage.engine.connect() as conn:
        table = PostRow.__table__
        return [
            (r.id, r.article_id, r.channel, r.status, r.payload_hash, str(r.created_at))
            for r in conn.execute(table.select().order_by(table.c.id))
        ]


def _store(storage: Storage, feeds: list[Any], now: Any, *, batched: bool) -> list[Any]:
    """Each feed with its own time (a poll's), as the poller's batches are."""
    stamps = {source: storage.source_stamp(source) for source, _, _ in feeds}
    out = []
    with storage.writing():
        lookups = (
            storage.batch_lookups([(source, articles) for source, articles, _ in feeds])
            if batched
            else None
        )
        for n, (source, articles, checked) in enumerate(feeds):
            expect = stamps[source] if checked else None
            result = storage.add_articles(
                source, articles, now + timedelta(milliseconds=10 * n), max_new=3,
                expect=expect, lookups=lookups, plan=_plan,
            )  # fmt: skip
            out.append((*_summary(result), result.planned, result.sendable))
    return out  # writing() wrote the batch's posts and audit events at its end


@pytest.mark.parametrize("steady", [True, False], ids=["steady", "anything"])
@pytest.mark.parametrize("seed", range(4))
def test_batch_lookups_store_what_feed_by_feed_reads_store(
    db_url: str, tmp_path: Path, now: Any, seed: int, steady: bool
) -> None:
    other_url = f"sqlite:///{tmp_path}/by_feed.db"
    batched, by_feed = open_storage(db_url), open_storage(other_url)
    statements = {"batched": 0, "by_feed": 0}
    for name, storage in (("batched", batched), ("by_feed", by_feed)):

        def count(*_: Any, name: str = name) -> None:
            statements[name] += 1

        event.listen(storage.engine, "before_cursor_execute", count)
    try:
        for storage in (batched, by_feed):
            storage.sync_sources([(s, f"https://so.gov.vn/{s}.rss") for s in SOURCES], now)
        for b, feeds in enumerate(_batches(seed, now, steady=steady)):
            when = now + timedelta(minutes=b)
            assert _store(batched, feeds, when, batched=True) == _store(
                by_feed, feeds, when, batched=False
            ), f"batch {b}"
        if db_url.startswith("sqlite"):  # ids and times compare only on the same backend
            assert _rows(batched) == _rows(by_feed)
            assert _posts(batched) == _posts(by_feed)
        assert len(_rows(batched)) == len(_rows(by_feed))
        assert len(_posts(batched)) == len(_posts(by_feed)) > 0
        assert _trail(batched) == _trail(by_feed)
        if steady:  # the lookups answered most feeds
            assert statements["batched"] < 0.9 * statements["by_feed"], statements
    finally:
        batched.close()
        by_feed.close()


def test_a_stale_stamp_is_seen_in_the_lookups(storage: Storage, now: Any) -> None:
    storage.sync_sources([("s0", "https://so.gov.vn/s0.rss")], now)
    storage.add_articles("s0", [_article("s0", "g1", 1, 1, 0, False, now)], now)
    wrong = (0, None)
    with storage.writing():
        lookups = storage.batch_lookups([("s0", [_article("s0", "g2", 2, 2, 0, False, now)])])
        assert lookups is not None and lookups.stamp("s0") == storage.source_stamp("s0")
        result = storage.add_articles(
            "s0", [_article("s0", "g2", 2, 2, 0, False, now)], now, expect=wrong, lookups=lookups
        )
    assert result.stale and storage.count_articles() == 1


def test_lookups_belong_inside_writing(storage: Storage, now: Any) -> None:
    """Outside writing() nothing would write their posts and events: refused."""
    with pytest.raises(RuntimeError, match=r"inside storage\.writing"):
        storage.batch_lookups([("s0", [_article("s0", "g1", 1, 1, 0, False, now)])])


def test_a_source_twice_in_one_batch_reads_for_itself(storage: Storage, now: Any) -> None:
    a = _article("s0", "g1", 1, 1, 0, False, now)
    with storage.writing():
        assert storage.batch_lookups([("s0", [a]), ("s0", [a])]) is None
