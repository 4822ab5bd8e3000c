"""✏️ Sửa bài đã đăng: propose a correction of a live post, approve it, and the Graph message /
the Zalo article change; cancel changes nothing; strangers are refused."""

from __future__ import annotations

from typing import Any

from syndicator.approval import ApprovalBot
from syndicator.approval.corrections import KEY
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
    wait_for,
)
from tests.approval.test_flow import preview_of

FB_TEXT = "Điều chỉnh: lịch tiếp công dân chuyển sang thứ Năm, ngày 20."
ZALO_TEXT = "Lịch tiếp công dân chuyển sang thứ Năm, ngày 20 (đã đính chính)."


async def published(desk: Desk) -> tuple[ApprovalBot, int, int]:
    """An article approved and live on the Page and the OA; (bot, preview message, article)."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(7))
    mid = message["message_id"]
    aid = desk.storage.list_posts()[0].article_id
    await answered(desk, desk.tap(mid, f"ap:{aid}"), bot)
    pub = desk.publisher(bot)
    for _ in range(3):
        await pub.run_once()
    assert {p.status for p in desk.storage.list_posts()} == {S.PUBLISHED}
    await wait_for(lambda: (m := desk.telegram.message(GROUP, mid)) and f"cb:{aid}" in actions(m))
    return bot, mid, aid


def post_of(desk: Desk, channel: str) -> Any:
    return next(p for p in desk.storage.list_posts() if p.channel == channel)


def kinds(desk: Desk) -> list[str]:
    return [e.kind for e in desk.storage.audit_events() if "correct" in e.kind]


async def ask(desk: Desk, bot: ApprovalBot, mid: int, aid: int, channel: str,
              user: int = APPROVER, name: str = APPROVER_NAME) -> dict[str, Any]:  # fmt: skip
    """✏️ Sửa bài đã đăng, then the channel's button: the forced-reply prompt."""
    await answered(desk, desk.tap(mid, f"cb:{aid}", user=user, name=name), bot)
    record = post_of(desk, channel)
    shown = await wait_for(
        lambda: (m := desk.telegram.message(GROUP, mid)) and f"cc:{record.id}" in actions(m) and m
    )
    assert actions(shown)[-1] == f"cn:{aid}"  # the way back
    before = {m["message_id"] for m in desk.bot_messages()}
    await answered(desk, desk.tap(mid, f"cc:{record.id}", user=user, name=name), bot)
    prompt = await wait_for(lambda: next((m for m in desk.bot_messages()
                                          if m["message_id"] not in before
                                          and "bài đã đăng trên" in body(m)), None))  # fmt: skip
    assert prompt.get("reply_markup", {}).get("force_reply") is True
    return dict(prompt)


async def reply(desk: Desk, bot: ApprovalBot, prompt: dict[str, Any], text: str,
                user: int = APPROVER, name: str = APPROVER_NAME) -> str:  # fmt: skip
    before = len(desk.bot_messages())
    desk.telegram.inject_message(GROUP, user, text, reply_to_message_id=prompt["message_id"],
                                 first_name=name)  # fmt: skip
    said = await wait_for(lambda: desk.bot_messages()[before:])
    await bot.idle()
    return body(said[0])


async def test_correction_is_proposed_then_approved_on_both_channels(desk: Desk) -> None:
    """Propose new texts for the Page post and the OA article; the preview shows them with
    Duyệt sửa / Huỷ; another approver approves, after a restart: both live posts change."""
    bot, mid, aid = await published(desk)
    fb, oa = post_of(desk, "facebook"), post_of(desk, "zalo")
    fb_before, (oa_before,) = desk.graph.live_posts()[0].message, desk.zalo.live_articles()
    link = fb.payload.get("link") or ""

    said = await reply(desk, bot, await ask(desk, bot, mid, aid, "facebook"), FB_TEXT)
    assert "đề xuất sửa Facebook" in said and "Liên kết bài gốc đã được thêm lại" in said
    said = await reply(desk, bot, await ask(desk, bot, mid, aid, "zalo"), ZALO_TEXT)
    assert "đề xuất sửa Zalo OA" in said
    shown = await wait_for(
        lambda: (m := desk.telegram.message(GROUP, mid)) and f"ca:{oa.id}" in actions(m) and m
    )
    assert FB_TEXT in body(shown) and ZALO_TEXT in body(shown) and APPROVER_NAME in body(shown)
    assert actions(shown) == [f"ca:{fb.id}", f"cx:{fb.id}", f"ca:{oa.id}", f"cx:{oa.id}",
                              f"gb:{aid}", f"cb:{aid}"]  # fmt: skip
    # Nothing live changed yet.
    assert desk.graph.live_posts()[0].message == fb_before
    assert desk.zalo.live_articles()[0].description == oa_before.description

    # A restart keeps the proposals (stored in the database, not in the bot).
    await bot.stop()
    bot = await desk.bot()
    for record in (fb, oa):
        data = desk.button(mid, f"ca:{record.id}")
        assert data is not None
        done = await answered(desk, desk.tap(mid, data, user=SECOND, name=SECOND_NAME,
                                             exact=True), bot)  # fmt: skip
        assert "Đã sửa bài đã đăng" in (done["answer_text"] or "")

    (live,) = desk.graph.live_posts()
    assert live.message.startswith(FB_TEXT) and link in live.message
    (article_now,) = desk.zalo.live_articles()
    assert article_now.description == ZALO_TEXT and article_now.title == oa_before.title
    assert post_of(desk, "facebook").payload["message"] == live.message
    final = await wait_for(
        lambda: (m := desk.telegram.message(GROUP, mid)) and f"cb:{aid}" in actions(m) and m
    )
    assert not any(a.startswith(("ca:", "cx:")) for a in actions(final))
    assert desk.storage.get_value(KEY.format(post=fb.id)) is None
    assert kinds(desk) == ["post.correction_proposed"] * 2 + [
        "post.correction_approved", "post.corrected"] * 2  # fmt: skip
    corrected = [e for e in desk.storage.audit_events() if e.kind == "post.corrected"]
    assert all(SECOND_NAME in e.actor and '"via":"telegram"' in e.data for e in corrected)
    approved = [e for e in desk.storage.audit_events() if e.kind == "post.correction_approved"]
    assert all(APPROVER_NAME in e.data for e in approved)  # who proposed, kept with who approved
    assert desk.storage.verify_audit().ok


async def test_cancel_changes_nothing_and_bad_input_is_refused(desk: Desk) -> None:
    """An empty or too long text is refused and may be answered again; another person's reply
    and a stranger's tap are refused; Huỷ drops the proposal and the live posts stay."""
    bot, mid, aid = await published(desk)
    fb = post_of(desk, "facebook")
    before = [p.message for p in desk.graph.live_posts()]
    prompt = await ask(desk, bot, mid, aid, "facebook")

    refused = await reply(desk, bot, prompt, "Không phải của tôi", user=SECOND, name=SECOND_NAME)
    assert "chỉ" in refused and APPROVER_NAME in refused
    assert "vượt giới hạn" in await reply(desk, bot, prompt, "x" * 70000)
    assert "trống" in await reply(desk, bot, prompt, "   ")
    assert "đề xuất sửa Facebook" in await reply(desk, bot, prompt, FB_TEXT)

    shown = await wait_for(
        lambda: (m := desk.telegram.message(GROUP, mid)) and f"cx:{fb.id}" in actions(m) and m
    )
    stranger = await answered(desk, desk.tap(mid, f"ca:{fb.id}", user=STRANGER, name="Khách"), bot)
    assert "chưa có quyền" in (stranger["answer_text"] or "")
    assert [p.message for p in desk.graph.live_posts()] == before

    stale = f"ca:{fb.id}:00000000"  # a button of an older proposal
    old = await answered(desk, desk.tap(mid, stale, exact=True), bot)
    assert old["answer_text"] == "Nội dung đã thay đổi, vui lòng xem lại bản mới."
    assert [p.message for p in desk.graph.live_posts()] == before

    cancelled = await answered(desk, desk.tap(mid, f"cx:{fb.id}", user=SECOND, name=SECOND_NAME),
                               bot)  # fmt: skip
    assert "Đã huỷ đề xuất sửa Facebook" in (cancelled["answer_text"] or "")
    # The approve button of the cancelled proposal, tapped late (e.g. an older client view).
    again = await answered(desk, desk.tap(mid, buttons_of(shown, f"ca:{fb.id}"), exact=True), bot)
    assert "không còn" in (again["answer_text"] or "")
    assert [p.message for p in desk.graph.live_posts()] == before
    assert post_of(desk, "facebook").payload == fb.payload
    assert kinds(desk) == ["post.correction_proposed", "post.correction_cancelled"]
    refusals = [e for e in desk.storage.audit_events() if e.kind == "approval.refused"]
    assert len(refusals) >= 2  # the other person's reply and the stranger's tap
    assert desk.storage.verify_audit().ok


def buttons_of(message: dict[str, Any], prefix: str) -> str:
    from tests.approval.conftest import buttons

    return next(d for d in buttons(message) if d.rsplit(":", 1)[0] == prefix)
