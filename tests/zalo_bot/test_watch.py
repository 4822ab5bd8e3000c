"""Change-watch alerts on the Zalo bot through the Zalo Bot, Graph and Zalo OA stand-ins and a
portal: the alert, `cập nhật` / `duyệt cập nhật` / `gỡ` / `bỏ qua`, and the stale refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from syndicator.approval.zalo_bot import ZaloBotSurface
from syndicator.approval.zalo_bot import watch as zwatch
from syndicator.publishing.watch_runner import WatchRunner, load
from syndicator.sandbox.portal import PortalServer
from syndicator.sources.fetch import Fetcher
from syndicator.types import Article
from syndicator.types import PostStatus as S
from tests.approval.test_watch import Clock
from tests.zalo_bot.conftest import A_ID, A_NAME, B_ID, B_NAME, STRANGER, ZDesk, article

NEW_TITLE = "Ủy ban nhân dân tỉnh điều chỉnh lịch tiếp công dân sang ngày 20"


@pytest.fixture
async def portal() -> AsyncIterator[PortalServer]:
    server = PortalServer()
    await server.start()
    yield server
    await server.stop()


async def published(zdesk: ZDesk, portal: PortalServer) -> tuple[ZaloBotSurface, Article]:
    """A (admin) and B (approver) linked; an article served by the portal, live on both."""
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME, admin=True)
    await zdesk.link(B_ID, B_NAME)
    url = portal.put("/tin/7", "<html><body>Lịch tiếp công dân</body></html>", "text/html")
    (aid,) = zdesk.add(article(7, url=url, canonical_url=url))
    await surface.tick(datetime.now(UTC))
    assert "Đã duyệt" in await zdesk.ask(A_ID, f"duyệt {aid}")
    pub = zdesk.publisher(surface)
    for _ in range(3):
        await pub.run_once()
    assert {p.status for p in zdesk.storage.list_posts(article_id=aid)} == {S.PUBLISHED}
    stored = zdesk.storage.get_article(aid)
    assert stored is not None
    return surface, stored


def runner(zdesk: ZDesk, clock: Clock) -> WatchRunner:
    """The watcher with the hand-off build.py wires for the Zalo surface."""
    return WatchRunner(
        zdesk.storage, Fetcher(zdesk.client), days=timedelta(days=7),
        check_every=timedelta(hours=6), threshold=0.05, clock=clock,
        notify=lambda a: zwatch.queue_alert(zdesk.storage, a, clock()),
    )  # fmt: skip


def change(zdesk: ZDesk, art: Article, title: str, content_hash: str) -> None:
    """The poller stores a new version of the article (the portal retitled it)."""
    zdesk.storage.add_articles(
        "portal", [replace(article(7, url=art.url, canonical_url=art.url), title=title,
                           content_hash=content_hash)], datetime.now(UTC),
    )  # fmt: skip


def kinds(zdesk: ZDesk) -> list[str]:
    return [e.kind for e in zdesk.storage.audit_events() if e.kind.startswith("watch.")]


async def test_changed_article_updated_from_zalo(zdesk: ZDesk, portal: PortalServer) -> None:
    """The alert reaches both linked chats once; `cập nhật` shows the re-rendered texts and
    edits nothing; `duyệt cập nhật` edits the Graph post and the Zalo article; then the alert
    is handled and a late `bỏ qua` is refused."""
    surface, art = await published(zdesk, portal)
    watch = runner(zdesk, Clock())
    assert await watch.run_once() == 0  # the baseline
    change(zdesk, art, NEW_TITLE, "h7-v2")
    assert await watch.run_once() == 1
    await surface.tick(datetime.now(UTC))
    await surface.tick(datetime.now(UTC))  # a second tick sends nothing again
    for user in (A_ID, B_ID):
        alerts = [t for t in zdesk.texts(user) if "vừa được sửa" in t]
        assert len(alerts) == 1, alerts
        assert f"Trước: {art.title}" in alerts[0] and f"Sau: {NEW_TITLE}" in alerts[0]
        assert f"cập nhật {art.id}" in alerts[0] and f"bỏ qua {art.id}" in alerts[0]

    assert "không có quyền" in await zdesk.ask(STRANGER, f"cap nhat {art.id}", "Người lạ")
    assert "chưa có bản cập nhật" in await zdesk.ask(B_ID, f"duyệt cập nhật {art.id}")
    shown = await zdesk.ask(B_ID, f"Cập nhật {art.id}")
    assert "chờ duyệt" in shown and NEW_TITLE in shown and f"duyệt cập nhật {art.id}" in shown
    assert all(NEW_TITLE not in p.message for p in zdesk.graph.live_posts())  # not yet

    done = await zdesk.ask(B_ID, f"duyet cap nhat {art.id}")
    assert "Đã cập nhật bài đăng" in done and B_NAME in done
    (fb,) = zdesk.graph.live_posts()
    (oa,) = zdesk.zalo.live_articles()
    assert NEW_TITLE in fb.message and oa.title == NEW_TITLE
    state = load(zdesk.storage, art.id or 0)
    assert state is not None and state["status"] == "watching"
    assert "đã được xử lý" in await zdesk.ask(A_ID, f"bỏ qua {art.id}")
    assert kinds(zdesk) == ["watch.changed", "watch.update_rendered", "watch.update_approved"]
    corrected = [e for e in zdesk.storage.audit_events() if e.kind == "post.corrected"]
    assert len(corrected) == 2 and all(B_NAME in e.actor for e in corrected)
    assert zdesk.storage.verify_audit().ok


async def test_stale_alert_and_stale_update_refused(zdesk: ZDesk, portal: PortalServer) -> None:
    """The article changes again after the alert: a command typed for the old alert does
    nothing and brings the newest alert; texts re-rendered by another person since must be
    read before they can be approved."""
    surface, art = await published(zdesk, portal)
    watch = runner(zdesk, Clock())
    await watch.run_once()
    change(zdesk, art, NEW_TITLE, "h7-v2")
    assert await watch.run_once() == 1
    await surface.tick(datetime.now(UTC))
    newer = NEW_TITLE + " và ngày 27"
    change(zdesk, art, newer, "h7-v3")  # changed again: the open alert now shows v3

    stale = await zdesk.ask(A_ID, f"bỏ qua {art.id}")
    assert "đã thay đổi kể từ thông báo bạn xem" in stale and newer in stale
    assert "watch.dismissed" not in kinds(zdesk)

    shown_a = await zdesk.ask(A_ID, f"cập nhật {art.id}")  # A has seen v3 now
    assert newer in shown_a
    assert "chưa nhận thông báo" not in shown_a
    # B saw the v2 alert only: refused, and gets the newest alert.
    assert "đã thay đổi kể từ" in await zdesk.ask(B_ID, f"cập nhật {art.id}")
    shown_b = await zdesk.ask(B_ID, f"cập nhật {art.id}")  # now B has seen it: the same texts
    assert newer in shown_b
    done = await zdesk.ask(A_ID, f"duyệt cập nhật {art.id}")
    assert "Đã cập nhật bài đăng" in done
    assert all(newer in p.message for p in zdesk.graph.live_posts())
    assert zdesk.storage.verify_audit().ok


async def test_withdrawn_article_taken_down_from_zalo(zdesk: ZDesk, portal: PortalServer) -> None:
    """The page answers 404: the alert offers `gỡ` and `bỏ qua` only; `cập nhật` is refused;
    `gỡ N` needs a reason and an admin; the admin's `gỡ N lý do` deletes both posts."""
    surface, art = await published(zdesk, portal)
    clock = Clock()
    watch = runner(zdesk, clock)
    assert await watch.run_once() == 0
    del portal.documents["/tin/7"]
    clock.shift = timedelta(hours=6, minutes=1)
    assert await watch.run_once() == 1
    await surface.tick(datetime.now(UTC))
    (alert,) = [t for t in zdesk.texts(B_ID) if "không còn trên cổng" in t]
    assert "HTTP 404" in alert and f"gỡ {art.id}" in alert and "cập nhật" not in alert

    assert "không có nội dung mới" in await zdesk.ask(A_ID, f"cập nhật {art.id}")
    assert "Chỉ quản trị viên" in await zdesk.ask(B_ID, f"gỡ {art.id} sai")
    assert "ghi lý do" in await zdesk.ask(A_ID, f"gỡ {art.id}")
    assert len(zdesk.graph.live_posts()) == 1 and len(zdesk.zalo.live_articles()) == 1

    done = await zdesk.ask(A_ID, f"Gỡ {art.id} Sở đã gỡ bài gốc")
    assert "đã gỡ" in done and A_NAME in done
    assert zdesk.graph.live_posts() == [] and zdesk.zalo.live_articles() == []
    assert {p.status for p in zdesk.storage.list_posts()} == {S.REMOVED}
    assert kinds(zdesk) == ["watch.withdrawn", "watch.takedown_asked"]
    assert "đã được xử lý" in await zdesk.ask(B_ID, f"bỏ qua {art.id}")
    refused = [e for e in zdesk.storage.audit_events() if e.kind == "approval.refused"]
    assert any(B_ID in e.actor and "takedown" in e.data for e in refused)
    assert zdesk.storage.verify_audit().ok


async def test_dismiss_from_zalo(zdesk: ZDesk, portal: PortalServer) -> None:
    """`bỏ qua N` keeps the posts, audits who dismissed, and watches from the new text."""
    surface, art = await published(zdesk, portal)
    watch = runner(zdesk, Clock())
    await watch.run_once()
    change(zdesk, art, NEW_TITLE, "h7-v2")
    await watch.run_once()
    await surface.tick(datetime.now(UTC))
    answer = await zdesk.ask(B_ID, f"bo qua {art.id}")
    assert "Đã bỏ qua" in answer and B_NAME in answer
    assert all(NEW_TITLE not in p.message for p in zdesk.graph.live_posts())
    assert kinds(zdesk) == ["watch.changed", "watch.dismissed"]
    assert await watch.run_once() == 0  # the new text is the baseline
    assert zwatch._due(zdesk.storage) == [art.id]  # still queued until the next tick drops it
    await surface.tick(datetime.now(UTC))
    assert zwatch._due(zdesk.storage) == []
