"""Planning in batches (Publisher.plan, Storage.save_plans_many) equals planning one by one."""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

import daemon
from syndicator.config import parse_config
from syndicator.publishing.planner import plan_posts
from syndicator.publishing.publisher import Publisher
from syndicator.storage import Storage, open_storage
from syndicator.types import Article, Flag, PostStatus
from tests.conftest import reset_postgres

NOW = datetime.fromisoformat("2025-11-14T03:00:00+00:00")


def article(i: int, source: str = "portal", **kw: Any) -> Article:
    base = Article(
        source_id=source, guid=f"g{i}", url=f"https://portal.example.gov.vn/tin/{i}",
        canonical_url=f"https://portal.example.gov.vn/tin/{i}",
        title=f"Ủy ban nhân dân tỉnh thông báo lịch tiếp công dân số {i}",
        summary="Chủ tịch UBND tỉnh tiếp công dân định kỳ tại Trụ sở Tiếp công dân tỉnh.",
        content_html="<p>Nội dung chi tiết.</p>", content_text="Nội dung chi tiết.",
        image_url=None, published_at=NOW - timedelta(minutes=5), agency="UBND tỉnh",
        categories=("tin_tuc",), content_hash=f"h{i}", fingerprint=f"f{i}",
    )  # fmt: skip
    return replace(base, **kw)


def one_by_one(publisher: Publisher) -> int:
    """The planner as it was before batching: one article, one transaction."""
    storage, created = publisher.storage, 0
    for article_id in storage.articles_to_plan():
        found = storage.get_article(article_id)
        assert found is not None
        if found.image_url is None:
            image = storage.copy_image(article_id)
            if image:
                found = dataclasses.replace(found, image_url=image)
        plans, reason = plan_posts(
            found, publisher.channels, publisher.approval, NOW, publisher.settings.max_article_age
        )
        created += len(storage.save_plans(article_id, plans, NOW, skipped_reason=reason))
    return created


async def scenario(
    url: str, plan: Callable[[Publisher], int], *, at_ingest: bool = False
) -> tuple[list[Any], list[Any]]:
    """New, held, old, auto-approved, duplicate and image-less articles; then edits.
    `at_ingest`: add_articles plans the new ones itself (the daemon's poller does)."""
    storage = open_storage(url)
    raw = {
        "database": {"url": url},
        "sources": [{"id": "portal", "url": "https://portal.example.gov.vn/rss"},
                    {"id": "so-tc", "url": "https://sotc.example.gov.vn/rss"}],
        "approval": {"mode": "manual", "auto_approve": [{"source": "so-tc"}]},
        "channels": {
            "facebook": {"kind": "facebook_page", "page_id": "1", "access_token": "T",
                         "api_base": "http://127.0.0.1:9"},
            "zalo": {"kind": "zalo_oa", "app_id": "a", "secret_key": "s", "refresh_token": "r",
                     "api_base": "http://127.0.0.1:9", "oauth_base": "http://127.0.0.1:9",
                     "default_cover_url": "https://portal.example.gov.vn/logo.jpg"},
        },
    }  # fmt: skip
    settings = parse_config(raw)
    async with httpx.AsyncClient() as client:
        channels = daemon.build_channels(settings, storage, client, clock=lambda: NOW)
        publisher = daemon.build_publisher(settings, storage, channels, clock=lambda: NOW)
        if at_ingest:
            storage.add_articles = functools.partial(  # type: ignore[method-assign]
                storage.add_articles, plan=publisher.plan_one
            )
        storage.add_articles(
            "portal",
            [
                article(1),
                article(
                    2,
                    title="Văn bản MẬT về quy hoạch",
                    secrecy_marker="MẬT",
                    flags=frozenset({Flag.HOLD}),
                ),
                article(3, published_at=NOW - timedelta(days=30)),  # too old: not planned
                article(4),  # no image; its copy from so-tc carries one
            ],
            NOW,
        )
        storage.add_articles(
            "so-tc",
            [
                article(5, source="so-tc"),  # auto-approved by the rule
                article(
                    6,
                    source="so-tc",
                    guid="copy4",
                    fingerprint="f4",
                    image_url="https://sotc.example.gov.vn/anh.jpg",
                ),
            ],
            NOW,
        )
        first = plan(publisher) + len(storage.list_posts()) * at_ingest
        pending = storage.list_posts(status=[PostStatus.PENDING])
        storage.decide([pending[0].id], PostStatus.APPROVED, actor="cli:test", now=NOW)
        # Article 1 changes (one post approved, one still waiting: only that is re-rendered);
        # article 4 changes too, and a new one arrives.
        storage.add_articles(
            "portal",
            [article(1, title="Lịch tiếp công dân (sửa)", content_hash="h1b"),
             article(4, summary="Tóm tắt mới", content_hash="h4b"), article(7)],
            NOW,
        )  # fmt: skip
        second = plan(publisher)
    posts = [dataclasses.astuple(p) for p in storage.list_posts()]
    events = [dataclasses.astuple(e) for e in storage.audit_events()]
    storage.close()
    assert first > 0 and second > 0
    return posts, events


def fresh(url: str) -> str:
    if url.startswith("postgresql"):
        reset_postgres(url)
    else:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    return url


async def test_batch_plans_the_same_posts_and_audit_events(db_url: str) -> None:
    """The batch planner leaves exactly the posts and audit chain one-by-one planning leaves."""
    expected = await scenario(fresh(db_url), one_by_one)
    got = await scenario(fresh(db_url), lambda p: p.plan())
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    kinds = [e[2] for e in expected[1]]
    assert {"post.created", "post.rerendered", "article.not_planned"} <= set(kinds), kinds
    statuses = {p[3] for p in expected[0]}
    assert {PostStatus.PENDING, PostStatus.HELD, PostStatus.APPROVED} <= statuses


async def test_planned_as_stored_leaves_the_same_posts(db_url: str) -> None:
    """add_articles(plan=Publisher.plan_one), as the daemon's poller stores: the new originals
    get their posts in the storing transaction, the same posts the planner would create. The
    events are the same but for order (each article's post.created follows its article.new)
    and one more: the image-less original planned as stored is re-rendered once its copy
    brings an image (the batch planner, later, saw the image at once)."""
    expected = await scenario(fresh(db_url), lambda p: p.plan())
    got = await scenario(fresh(db_url), lambda p: p.plan(), at_ingest=True)
    assert got[0] == expected[0]

    def kinds(events: list[Any]) -> collections.Counter[tuple[str, str]]:
        return collections.Counter((e[2], e[4]) for e in events)

    extra = kinds(got[1]) - kinds(expected[1])
    assert not kinds(expected[1]) - kinds(got[1])
    assert {kind for kind, _ in extra} == {"post.rerendered"}, extra


def test_batch_of_nothing_and_of_vanished_articles(storage: Storage) -> None:
    """An empty batch writes nothing; an article id that is not stored is skipped."""
    before = list(storage.audit_events())
    assert storage.save_plans_many([], NOW) == []
    assert storage.save_plans_many([(424242, [], "gone")], NOW) == []
    assert list(storage.audit_events()) == before
    assert storage.articles_for_planning() == []
