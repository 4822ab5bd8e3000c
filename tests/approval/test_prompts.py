"""Forced-reply flows (edit, schedule, reject with reason) and restarts in the middle of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syndicator.types import PostStatus as S
from tests.approval.conftest import (
    APPROVER,
    APPROVER_NAME,
    GROUP,
    STRANGER,
    Desk,
    actions,
    answered,
    article,
    body,
    buttons,
    wait_for,
)
from tests.approval.test_flow import preview_of


def prompts(desk: Desk) -> list[dict]:
    """The bot's forced-reply questions (recognised by their wording once the markup is gone)."""
    return [m for m in desk.bot_messages() if "hãy trả lời tin nhắn này" in (m.get("text") or "")]


async def reply(desk: Desk, bot, prompt_id: int, text: str, user: int = APPROVER) -> None:  # type: ignore[no-untyped-def]
    before = len(desk.bot_messages())
    desk.telegram.inject_message(GROUP, user, text, reply_to_message_id=prompt_id,
                                 first_name=APPROVER_NAME)  # fmt: skip
    await wait_for(lambda: len(desk.bot_messages()) > before)
    await bot.idle()


async def test_edit_replaces_facebook_text_and_refreshes(desk: Desk) -> None:
    """Sửa → Facebook → reply: the message field is replaced, audited, and the preview shows it."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(1))
    mid = message["message_id"]
    posts = {p.channel: p for p in desk.storage.list_posts()}
    aid = posts["facebook"].article_id
    await answered(desk, desk.tap(mid, f"em:{aid}"), bot)
    assert f"ed:{posts['facebook'].id}" in actions(desk.telegram.message(GROUP, mid))
    await answered(desk, desk.tap(mid, f"ed:{posts['facebook'].id}"), bot)
    (prompt,) = await wait_for(lambda: prompts(desk))
    assert "nội dung bài" in prompt["text"]
    await reply(desk, bot, prompt["message_id"], "Nội dung mới <b>đậm</b> & rõ")
    edited = desk.storage.get_post(posts["facebook"].id)
    assert edited.payload["message"] == "Nội dung mới <b>đậm</b> & rõ" and edited.edited
    assert edited.payload["link"] == posts["facebook"].payload["link"]
    assert "Nội dung mới <b>đậm</b> & rõ" in body(desk.telegram.message(GROUP, mid))
    kinds = [e for e in desk.storage.audit_events() if e.kind == "post.edited"]
    assert kinds and kinds[0].actor == f"telegram:{APPROVER} {APPROVER_NAME}"


async def test_zalo_edit_over_limit_is_refused_then_accepted(desk: Desk) -> None:
    """A Zalo description longer than 250 characters (the margin under 300) is refused with the limit; a shorter one is used."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(2))
    zalo = next(p for p in desk.storage.list_posts() if p.channel == "zalo")
    await answered(desk, desk.tap(message["message_id"], f"em:{zalo.article_id}"), bot)
    await answered(desk, desk.tap(message["message_id"], f"ed:{zalo.id}"), bot)
    (prompt,) = await wait_for(lambda: prompts(desk))
    await reply(desk, bot, prompt["message_id"], "x" * 301)
    assert "vượt giới hạn 250" in body(desk.bot_messages()[-1])
    assert desk.storage.get_post(zalo.id).payload == zalo.payload
    await reply(desk, bot, prompt["message_id"], "Mô tả\nmới   gọn")
    assert desk.storage.get_post(zalo.id).payload["description"] == "Mô tả mới gọn"


async def test_schedule_preset_and_typed_time(desk: Desk) -> None:
    """+1 giờ schedules one article; a typed "15:30 24/11" reply schedules another at that local time."""
    bot = await desk.bot()
    first, second = await preview_of(desk, bot, article(3), article(4))
    ids = sorted({p.article_id for p in desk.storage.list_posts()})
    before = datetime.now(UTC)
    await answered(desk, desk.tap(first["message_id"], f"sc:{ids[0]}"), bot)
    await answered(desk, desk.tap(first["message_id"], f"sp:{ids[0]}:1h"), bot)
    scheduled = desk.storage.list_posts(article_id=ids[0])
    assert {p.status for p in scheduled} == {S.SCHEDULED}
    assert abs(scheduled[0].scheduled_for - (before + timedelta(hours=1))) < timedelta(seconds=30)
    assert "Đã hẹn giờ bởi Nguyễn Văn A" in body(desk.telegram.message(GROUP, first["message_id"]))
    await answered(desk, desk.tap(second["message_id"], f"sc:{ids[1]}"), bot)
    await answered(desk, desk.tap(second["message_id"], f"sp:{ids[1]}:ask"), bot)
    (prompt,) = await wait_for(lambda: prompts(desk))
    year = datetime.now(UTC).year + 1
    await reply(desk, bot, prompt["message_id"], f"15:30 24/11/{year}")
    posts = desk.storage.list_posts(article_id=ids[1])
    assert {p.status for p in posts} == {S.SCHEDULED}
    assert posts[0].scheduled_for == datetime(year, 11, 24, 8, 30, tzinfo=UTC)


async def test_reject_with_reason(desk: Desk) -> None:
    """Từ chối → ghi lý do → reply: posts rejected with the reason, which the stamp shows."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(5))
    aid = desk.storage.list_posts()[0].article_id
    await answered(desk, desk.tap(message["message_id"], f"rj:{aid}"), bot)
    await answered(desk, desk.tap(message["message_id"], f"rr:{aid}"), bot)
    (prompt,) = await wait_for(lambda: prompts(desk))
    await reply(desk, bot, prompt["message_id"], "Trùng nội dung đã đăng")
    posts = desk.storage.list_posts(article_id=aid)
    assert {(p.status, p.reason) for p in posts} == {(S.REJECTED, "Trùng nội dung đã đăng")}
    shown = desk.telegram.message(GROUP, message["message_id"])
    assert "Lý do: Trùng nội dung đã đăng" in body(shown) and not buttons(shown)


async def test_restart_between_preview_and_tap(desk: Desk) -> None:
    """A new bot on the same database handles a tap on the old message and sends no new preview."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(6))
    aid = desk.storage.list_posts()[0].article_id
    await bot.stop()
    desk.bots.remove(bot)
    fresh = await desk.bot()
    await fresh.tick(datetime.now(UTC))
    await fresh.idle()
    assert len(desk.previews()) == 1
    await answered(desk, desk.tap(message["message_id"], f"ap:{aid}"), fresh)
    assert {p.status for p in desk.storage.list_posts()} == {S.APPROVED}
    assert "Đã duyệt bởi" in body(desk.telegram.message(GROUP, message["message_id"]))
    pub = desk.publisher(fresh)
    for _ in range(4):
        await pub.run_once()
    assert len(desk.graph.live_posts()) == 1 and len(desk.zalo.live_articles()) == 1


async def test_prompt_survives_restart_and_ignores_strangers(desk: Desk) -> None:
    """A reason asked before a restart is still accepted after it; a stranger's reply is refused."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(7))
    aid = desk.storage.list_posts()[0].article_id
    await answered(desk, desk.tap(message["message_id"], f"rj:{aid}"), bot)
    await answered(desk, desk.tap(message["message_id"], f"rr:{aid}"), bot)
    (prompt,) = await wait_for(lambda: prompts(desk))
    await bot.stop()
    desk.bots.remove(bot)
    fresh = await desk.bot()
    await reply(desk, fresh, prompt["message_id"], "Không phải tôi", user=STRANGER)
    assert {p.status for p in desk.storage.list_posts()} == {S.PENDING}
    await reply(desk, fresh, prompt["message_id"], "Sai chuyên mục")
    assert {p.status for p in desk.storage.list_posts()} == {S.REJECTED}
