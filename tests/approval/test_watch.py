"""Watching published articles through the Telegram, Graph and Zalo stand-ins and a portal."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syndicator.approval import ApprovalBot, watch_buttons
from syndicator.publishing.watch_runner import WatchRunner, load
from syndicator.sandbox.portal import PortalServer
from syndicator.sources.fetch import Fetcher
from syndicator.types import Article
from syndicator.types import PostStatus as S
from tests.approval.conftest import (
    ADMIN,
    ADMIN_NAME,
    GROUP,
    Desk,
    actions,
    answered,
    article,
    body,
    wait_for,
)
from tests.approval.test_flow import preview_of

NEW_TITLE = "Ủy ban nhân dân tỉnh điều chỉnh lịch tiếp công dân sang ngày 20"


@pytest.fixture
async def portal() -> AsyncIterator[PortalServer]:
    server = PortalServer()
    await server.start()
    yield server
    await server.stop()


class Clock:
    def __init__(self) -> None:
        self.shift = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.shift


async def published(desk: Desk, portal: PortalServer) -> tuple[ApprovalBot, Article]:
    """An article served by the portal, approved and live on the Page and the OA."""
    bot = await desk.bot()
    url = portal.put("/tin/7", "<html><body>Lịch tiếp công dân</body></html>", "text/html")
    (message,) = await preview_of(desk, bot, article(7, url=url, canonical_url=url))
    aid = desk.storage.list_posts()[0].article_id
    await answered(desk, desk.tap(message["message_id"], f"ap:{aid}"), bot)
    pub = desk.publisher(bot)
    for _ in range(3):
        await pub.run_once()
    assert {p.status for p in desk.storage.list_posts()} == {S.PUBLISHED}
    stored = desk.storage.get_article(aid)
    assert stored is not None
    return bot, stored


def runner(desk: Desk, bot: ApprovalBot, clock: Callable[[], datetime]) -> WatchRunner:
    return WatchRunner(
        desk.storage, Fetcher(desk.client), days=timedelta(days=7),
        check_every=timedelta(hours=6), threshold=0.05, clock=clock,
        notify=lambda a: watch_buttons.notify(bot, a),
    )  # fmt: skip


async def alert_of(desk: Desk, bot: ApprovalBot, head: str) -> dict[str, Any]:
    await bot.idle()
    return await wait_for(lambda: next((m for m in desk.bot_messages() if head in body(m)), None))


def kinds(desk: Desk) -> list[str]:
    return [e.kind for e in desk.storage.audit_events() if e.kind.startswith("watch.")]


async def test_changed_article_is_updated_on_both_channels(
    desk: Desk, portal: PortalServer
) -> None:
    """The portal retitles a live article: the alert shows before/after; Cập nhật shows the
    re-rendered posts; once approved the Graph post and the Zalo article carry the new title."""
    bot, art = await published(desk, portal)
    watch = runner(desk, bot, Clock())
    assert await watch.run_once() == 0  # the baseline: what is live now
    assert await watch.run_once() == 0  # nothing changed: no alert
    desk.storage.add_articles(
        "portal", [replace(article(7, url=art.url, canonical_url=art.url), title=NEW_TITLE,
                           content_hash="h7-v2")], datetime.now(UTC),
    )  # fmt: skip
    assert await watch.run_once() == 1
    assert await watch.run_once() == 0  # alerted once, not every turn
    alert = await alert_of(desk, bot, "vừa được sửa")
    text, mid = body(alert), alert["message_id"]
    assert f"Trước: {art.title}" in text and f"Sau: {NEW_TITLE}" in text
    assert "Facebook" in text and "Zalo OA" in text
    assert actions(alert) == [f"wu:{art.id}", f"wr:{art.id}", f"wx:{art.id}"]
    assert all(len(d.encode()) <= 64 for d in (alert["reply_markup"]["inline_keyboard"][0][0]
                                               ["callback_data"],))  # fmt: skip

    await answered(desk, desk.tap(mid, f"wu:{art.id}"), bot)
    confirm = await wait_for(
        lambda: (m := desk.telegram.message(GROUP, mid)) and "chờ duyệt" in body(m) and m
    )
    assert NEW_TITLE in body(confirm) and actions(confirm)[0] == f"wa:{art.id}"
    assert all(NEW_TITLE not in p.message for p in desk.graph.live_posts())  # not yet

    done = await answered(desk, desk.tap(mid, f"wa:{art.id}"), bot)
    assert done["answer_text"] == "Đã cập nhật bài đăng."
    (fb,) = desk.graph.live_posts()
    (oa,) = desk.zalo.live_articles()
    assert NEW_TITLE in fb.message and oa.title == NEW_TITLE
    final = await wait_for(
        lambda: (m := desk.telegram.message(GROUP, mid)) and "Đã cập nhật" in body(m) and m
    )
    assert actions(final) == []
    assert kinds(desk) == ["watch.changed", "watch.update_rendered", "watch.update_approved"]
    corrected = [e for e in desk.storage.audit_events() if e.kind == "post.corrected"]
    assert len(corrected) == 2 and all('"via":"watch"' in e.data for e in corrected)
    assert (load(desk.storage, art.id or 0) or {})["status"] == "watching"
    assert await watch.run_once() == 0  # the corrected text is the new baseline
    assert desk.storage.verify_audit().ok


async def test_withdrawn_article_is_taken_down(desk: Desk, portal: PortalServer) -> None:
    """The article page answers 404 at the next URL check: the alert offers Gỡ bài (no update);
    the admin's reason takes both posts down."""
    bot, art = await published(desk, portal)
    clock = Clock()
    watch = runner(desk, bot, clock)
    assert await watch.run_once() == 0  # the page is there (HTTP 200)
    del portal.documents["/tin/7"]
    assert await watch.run_once() == 0  # not checked again before check_every
    clock.shift = timedelta(hours=6, minutes=1)
    assert await watch.run_once() == 1
    alert = await alert_of(desk, bot, "không còn trên cổng")
    assert "HTTP 404" in body(alert)
    assert actions(alert) == [f"wr:{art.id}", f"wx:{art.id}"]

    await answered(desk, desk.tap(alert["message_id"], f"wr:{art.id}", user=ADMIN,
                                  name=ADMIN_NAME), bot)  # fmt: skip
    prompt = await wait_for(
        lambda: next((m for m in desk.bot_messages() if "lý do gỡ bài" in body(m)), None)
    )
    before = len(desk.bot_messages())
    desk.telegram.inject_message(
        GROUP, ADMIN, "Sở đã gỡ bài gốc", reply_to_message_id=prompt["message_id"],
        first_name=ADMIN_NAME,
    )  # fmt: skip
    await wait_for(lambda: len(desk.bot_messages()) > before)
    await bot.idle()
    assert desk.graph.live_posts() == [] and desk.zalo.live_articles() == []
    assert {p.status for p in desk.storage.list_posts()} == {S.REMOVED}
    assert kinds(desk) == ["watch.withdrawn", "watch.takedown_asked"]
    assert await watch.run_once() == 0  # nothing live: nothing watched


async def test_dismissed_alert_does_nothing_more(desk: Desk, portal: PortalServer) -> None:
    """Bỏ qua closes the alert: no more buttons, later taps change nothing, posts untouched;
    a minor edit (whitespace) never alerts."""
    bot, art = await published(desk, portal)
    watch = runner(desk, bot, Clock())
    await watch.run_once()
    live = [p.message for p in desk.graph.live_posts()]
    base = article(7, url=art.url, canonical_url=art.url)
    desk.storage.add_articles(
        "portal",
        [replace(base, title=base.title + "  ", content_hash="h7-space")],
        datetime.now(UTC),
    )
    assert await watch.run_once() == 0  # fmt: skip
    desk.storage.add_articles("portal", [replace(base, title=NEW_TITLE, content_hash="h7-v2")],
                              datetime.now(UTC))  # fmt: skip
    assert await watch.run_once() == 1
    alert = await alert_of(desk, bot, "vừa được sửa")
    mid = alert["message_id"]
    done = await answered(desk, desk.tap(mid, f"wx:{art.id}"), bot)
    assert done["answer_text"] == "Đã bỏ qua."
    closed = await wait_for(
        lambda: (m := desk.telegram.message(GROUP, mid)) and "Đã bỏ qua bởi" in body(m) and m
    )
    assert actions(closed) == []
    again = await answered(desk, desk.tap(mid, f"wu:{art.id}:00000000", exact=True), bot)
    assert again["answer_text"] == "Thông báo này đã cũ hoặc đã được xử lý."
    assert await watch.run_once() == 0
    assert [p.message for p in desk.graph.live_posts()] == live
    assert kinds(desk) == ["watch.changed", "watch.dismissed"]
    assert not any(e.kind == "post.corrected" for e in desk.storage.audit_events())
