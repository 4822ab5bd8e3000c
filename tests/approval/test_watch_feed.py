"""The watcher follows an article's URL by its place in its feed (poller + Telegram stand-in).

The poller stores the feed (and its members), the staff approve a post through the Telegram
stand-in, the publisher puts it live on the Graph and Zalo stand-ins, then the watcher runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

import daemon
from syndicator.approval import ApprovalBot, watch_buttons
from syndicator.config import parse_config
from syndicator.publishing.watch_runner import WatchRunner, load
from syndicator.sandbox.portal import PortalServer
from syndicator.sources.fetch import Fetcher
from syndicator.types import Article
from syndicator.types import PostStatus as S
from tests.approval.conftest import Desk, actions, answered, body, wait_for
from tests.approval.test_watch import Clock

CHECK_EVERY = timedelta(hours=6)
# One date for every item, so an item's bytes stay the same from poll to poll and the poller
# trims the later documents to their new items (their members then come from its memory).
PUBLISHED = format_datetime(datetime.now(UTC))


@pytest.fixture
async def portal() -> AsyncIterator[PortalServer]:
    server = PortalServer()
    await server.start()
    yield server
    await server.stop()


def feed(portal: PortalServer, *guids: str) -> str:
    """An RSS document listing these items, newest first (as portals do)."""
    items = "".join(
        f"<item><title>Thông báo số {g} của UBND tỉnh</title><link>{portal.url(f'/tin/{g}')}"
        f"</link><guid>{g}</guid><pubDate>{PUBLISHED}</pubDate>"
        f"<description>Nội dung thông báo số {g}.</description></item>"
        for g in guids
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>UBND</title>'
        f"{items}</channel></rss>"
    )


async def poll(desk: Desk, portal: PortalServer, *guids: str) -> None:
    """The portal now lists these items; the poller reads the feed once."""
    portal.put("/rss", feed(portal, *guids))
    for g in guids:
        if f"/tin/{g}" not in portal.documents:
            portal.put(f"/tin/{g}", f"<html><body>Thông báo số {g}</body></html>", "text/html")
    raw = {**desk.raw, "sources": [{"id": "portal", "url": portal.url("/rss"),
                                    "agency": "UBND tỉnh"}]}  # fmt: skip
    settings = parse_config(raw)
    (report,) = await daemon.build_poller(settings, desk.storage, desk.client).poll()
    assert report.errors == []


async def publish(desk: Desk, bot: ApprovalBot, guid: str) -> Article:
    """Approve the article of this guid on its preview and let the publisher put it live."""
    # feedparser resolves a relative guid against the feed's URL: ".../2".
    art = next(a for a in desk.storage.list_articles() if a.guid.rsplit("/", 1)[-1] == guid)
    pub = desk.publisher(bot)
    pub.plan()
    await bot.tick(datetime.now(UTC))
    await bot.idle()
    preview = next(m for m in desk.previews() if f"ap:{art.id}" in actions(m))
    await answered(desk, desk.tap(preview["message_id"], f"ap:{art.id}"), bot)
    for _ in range(3):
        await pub.run_once()
    posts = [p for p in desk.storage.list_posts() if p.article_id == art.id]
    assert posts and {p.status for p in posts} == {S.PUBLISHED}
    return art


def runner(desk: Desk, bot: ApprovalBot, clock: Clock) -> WatchRunner:
    return WatchRunner(
        desk.storage, Fetcher(desk.client), days=timedelta(days=7), check_every=CHECK_EVERY,
        threshold=0.05, clock=clock, notify=lambda a: watch_buttons.notify(bot, a),
    )  # fmt: skip


async def test_in_feed_not_fetched_vanished_checked_at_once(
    desk: Desk, portal: PortalServer
) -> None:
    """An article in its feed is never fetched; one removed while older items stayed is
    fetched at the next turn, and its 404 alerts the staff chat with Gỡ bài."""
    bot = await desk.bot()
    await poll(desk, portal, "3", "2", "1")
    art = await publish(desk, bot, "2")
    clock = Clock()
    watch = runner(desk, bot, clock)
    assert await watch.run_once() == 0
    clock.shift = CHECK_EVERY * 2
    assert await watch.run_once() == 0
    assert portal.hits.get("/tin/2", 0) == 0  # in the feed: the poller keeps it current
    assert (load(desk.storage, art.id or 0) or {})["older"] == [portal.url("/1")]

    del portal.documents["/tin/2"]  # withdrawn: gone from the feed, item 1 (older) stays
    await poll(desk, portal, "3", "1")
    assert await watch.run_once() == 1  # at once, not check_every later
    assert portal.hits["/tin/2"] == 1
    alert = await wait_for(
        lambda: next((m for m in desk.bot_messages() if "không còn trên cổng" in body(m)), None)
    )
    assert "HTTP 404" in body(alert)
    assert actions(alert) == [f"wr:{art.id}", f"wx:{art.id}"]
    events = [e.kind for e in desk.storage.audit_events() if e.kind.startswith("watch.")]
    assert events == ["watch.withdrawn"]


async def test_pushed_out_followed_every_check_every(desk: Desk, portal: PortalServer) -> None:
    """An article pushed out by newer items is fetched only `check_every` after it left, then
    every `check_every`; a page that still answers raises nothing."""
    bot = await desk.bot()
    await poll(desk, portal, "2", "1")
    art = await publish(desk, bot, "1")
    clock = Clock()
    watch = runner(desk, bot, clock)
    assert await watch.run_once() == 0
    await poll(desk, portal, "3", "2")  # a newer item came in; the oldest one left
    assert await watch.run_once() == 0
    assert portal.hits.get("/tin/1", 0) == 0  # left, but pushed out: not at once
    assert (load(desk.storage, art.id or 0) or {}).get("left_at")
    clock.shift = CHECK_EVERY + timedelta(minutes=1)
    assert await watch.run_once() == 0  # the page is still there (HTTP 200)
    assert portal.hits["/tin/1"] == 1
    assert await watch.run_once() == 0
    assert portal.hits["/tin/1"] == 1  # not again before check_every
    del portal.documents["/tin/1"]
    clock.shift = 2 * CHECK_EVERY + timedelta(minutes=2)
    assert await watch.run_once() == 1
    assert portal.hits["/tin/1"] == 2
    await wait_for(
        lambda: next((m for m in desk.bot_messages() if "không còn trên cổng" in body(m)), None)
    )
