"""Approval flows end to end: real PTB over HTTP against the Telegram stand-in, real Publisher."""

from __future__ import annotations

from datetime import UTC, datetime

from syndicator.types import PostStatus as S
from tests.approval.conftest import (
    APPROVER,
    APPROVER_NAME,
    GROUP,
    SECOND,
    SECOND_NAME,
    STRANGER,
    Desk,
    actions,
    answered,
    article,
    body,
    buttons,
    wait_for,
)


async def preview_of(desk: Desk, bot, *articles):  # type: ignore[no-untyped-def]
    """Store articles, plan their posts, let the bot send the previews; return the messages."""
    desk.add(*articles)
    desk.publisher(bot).plan()
    await bot.tick(datetime.now(UTC))
    await bot.idle()
    return desk.previews()


async def test_preview_shows_each_channel_text_escaped(desk: Desk) -> None:
    """The preview names source, category and link, and shows both posts' text with <, & and quotes intact."""
    bot = await desk.bot()
    title = 'Giá "xăng" <RON95> & dầu giảm'
    (message,) = await preview_of(desk, bot, article(1, title=title))
    text = body(message)
    assert title in text and "Nguồn: UBND tỉnh" in text and "Tin tức, sự kiện" in text
    assert "https://portal.example.gov.vn/tin/1" in text
    assert (
        "&lt;RON95&gt; &amp; dầu" in message["source"] and "&quot;xăng&quot;" in message["source"]
    )
    posts = {p.channel: p for p in desk.storage.list_posts()}
    assert posts["facebook"].payload["message"] in text
    assert posts["zalo"].payload["description"] in text
    assert actions(message)[0] == f"ap:{posts['facebook'].article_id}"
    assert f"tg:{posts['facebook'].id}" in actions(message)
    assert (
        desk.storage.previews_of(posts["facebook"].article_id)[0].message_id
        == message["message_id"]
    )
    # a second tick sends nothing again
    await bot.tick(datetime.now(UTC))
    await bot.idle()
    assert len(desk.previews()) == 1


async def test_approve_publishes_and_shows_live_links(desk: Desk) -> None:
    """Duyệt stamps the name and time, removes the buttons; after publishing the links appear."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(2))
    aid = desk.storage.list_posts()[0].article_id
    answer = await answered(desk, desk.tap(message["message_id"], f"ap:{aid}"), bot)
    assert answer["answer_text"] == "Đã duyệt. Bài sẽ được đăng."
    current = desk.telegram.message(GROUP, message["message_id"])
    assert f"Đã duyệt bởi {APPROVER_NAME} lúc" in body(current)
    assert not buttons(current)
    posts = desk.storage.list_posts()
    assert {p.status for p in posts} == {S.APPROVED}
    assert all(p.decided_by == f"telegram:{APPROVER} {APPROVER_NAME}" for p in posts)
    pub = desk.publisher(bot)
    for _ in range(4):
        await pub.run_once()
    await bot.idle()
    done = {p.channel: p for p in desk.storage.list_posts()}
    assert {p.status for p in done.values()} == {S.PUBLISHED}
    current = await wait_for(
        lambda: (
            (m := desk.telegram.message(GROUP, message["message_id"]))
            and done["facebook"].permalink in body(m)
            and m
        )
    )
    assert done["zalo"].permalink in body(current)
    assert len(desk.graph.live_posts()) == 1 and len(desk.zalo.live_articles()) == 1


async def test_unauthorised_tap_is_refused_and_audited(desk: Desk) -> None:
    """A stranger's tap changes nothing, gets a polite refusal and leaves an audit event."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(3))
    aid = desk.storage.list_posts()[0].article_id
    answer = await answered(desk, desk.tap(message["message_id"], f"ap:{aid}", STRANGER, "Lạ"), bot)
    assert "chưa có quyền" in answer["answer_text"] and answer["show_alert"]
    assert {p.status for p in desk.storage.list_posts()} == {S.PENDING}
    refused = [e for e in desk.storage.audit_events() if e.kind == "approval.refused"]
    assert len(refused) == 1 and refused[0].actor == f"telegram:{STRANGER} Lạ"
    assert buttons(desk.telegram.message(GROUP, message["message_id"]))


async def test_double_tap_by_two_editors_publishes_once(desk: Desk) -> None:
    """Two editors tap Duyệt: one decision, the second is told who decided and when."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(4))
    aid = desk.storage.list_posts()[0].article_id
    first = desk.tap(message["message_id"], f"ap:{aid}")
    second = desk.tap(message["message_id"], f"ap:{aid}", SECOND, SECOND_NAME)
    await answered(desk, first, bot)
    answer = await answered(desk, second, bot)
    assert answer["answer_text"].startswith(f"Đã được xử lý bởi {APPROVER_NAME} lúc")
    approvals = [e for e in desk.storage.audit_events() if e.kind == "post.approved"]
    assert len(approvals) == 2  # one per channel, from the first tap only
    pub = desk.publisher(bot)
    for _ in range(4):
        await pub.run_once()
    assert len(desk.graph.live_posts()) == 1 and len(desk.zalo.live_articles()) == 1


async def test_channel_toggle_skips_and_restores(desk: Desk) -> None:
    """Turning Zalo off skips its post; on again makes it pending; approve then sends Facebook only."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(5))
    posts = {p.channel: p for p in desk.storage.list_posts()}
    mid, zalo = message["message_id"], posts["zalo"].id
    await answered(desk, desk.tap(mid, f"tg:{zalo}"), bot)
    assert desk.storage.get_post(zalo).status == S.SKIPPED
    assert "⚪ tắt" in body(desk.telegram.message(GROUP, mid))
    await answered(desk, desk.tap(mid, f"tg:{zalo}"), bot)
    assert desk.storage.get_post(zalo).status == S.PENDING
    await answered(desk, desk.tap(mid, f"tg:{zalo}"), bot)
    await answered(desk, desk.tap(mid, f"ap:{posts['zalo'].article_id}"), bot)
    after = {p.channel: p.status for p in desk.storage.list_posts()}
    assert after == {"facebook": S.APPROVED, "zalo": S.SKIPPED}
