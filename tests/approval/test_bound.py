"""Approval bound to what was seen, one decisions core, lost sends: PTB against the stand-in."""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from syndicator.approval import texts as T
from syndicator.cli import posts as cli_posts
from syndicator.cli.common import Context
from syndicator.types import PostStatus as S
from tests.approval.conftest import (
    APPROVER,
    GROUP,
    SECOND,
    SECOND_NAME,
    Desk,
    actions,
    answered,
    article,
    body,
    buttons,
    wait_for,
)
from tests.approval.test_flow import preview_of
from tests.approval.test_prompts import prompts, reply


def refusals(desk: Desk, reason: str) -> list:  # type: ignore[type-arg]
    events = [e for e in desk.storage.audit_events() if e.kind == "approval.refused"]
    return [e for e in events if reason in e.data]


async def test_stale_tap_is_refused_and_preview_refreshed(desk: Desk) -> None:
    """A tap on a preview whose text changed since is refused («nội dung đã thay đổi»), nothing
    is decided, and the preview then shows the new text with new buttons."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(1))
    mid = message["message_id"]
    facebook = next(p for p in desk.storage.list_posts() if p.channel == "facebook")
    old_button = desk.button(mid, f"ap:{facebook.article_id}")
    new = {**facebook.payload, "message": "Bản đã sửa trên cổng"}
    changed = replace(facebook.post, payload=new, preview_text="Bản đã sửa trên cổng")
    desk.storage.edit_post(facebook.id, changed, actor="test", now=datetime.now(UTC))
    answer = await answered(desk, desk.tap(mid, old_button or "", exact=True), bot)
    assert answer["answer_text"] == T.ANS_STALE
    assert {p.status for p in desk.storage.list_posts()} == {S.PENDING}
    current = desk.telegram.message(GROUP, mid)
    assert "Bản đã sửa trên cổng" in body(current)
    fresh = desk.button(mid, f"ap:{facebook.article_id}")
    assert fresh and fresh != old_button
    answer = await answered(desk, desk.tap(mid, fresh, exact=True), bot)
    assert answer["answer_text"] == T.ANS_APPROVED
    assert {p.status for p in desk.storage.list_posts()} == {S.APPROVED}
    assert any(e.kind == "approval.stale" for e in desk.storage.audit_events())


async def test_button_of_another_article_is_refused(desk: Desk) -> None:
    """`ap:<B>` pressed on A's message approves nothing; the refusal is audited."""
    bot = await desk.bot()
    first, second = await preview_of(desk, bot, article(2), article(3))
    ids = sorted({p.article_id for p in desk.storage.list_posts()})
    other = desk.button(second["message_id"], f"ap:{ids[1]}")
    answer = await answered(desk, desk.tap(first["message_id"], other or "", exact=True), bot)
    assert answer["answer_text"] == T.ANS_WRONG_MESSAGE and answer["show_alert"]
    assert {p.status for p in desk.storage.list_posts()} == {S.PENDING}
    assert len(refusals(desk, "other_message")) == 1


async def test_old_format_button_is_refused_cleanly(desk: Desk) -> None:
    """A button from before revisions (`ap:<id>`) decides nothing; the preview gets new buttons."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(4))
    aid = desk.storage.list_posts()[0].article_id
    answer = await answered(desk, desk.tap(message["message_id"], f"ap:{aid}", exact=True), bot)
    assert answer["answer_text"] == T.ANS_OLD_BUTTON
    assert {p.status for p in desk.storage.list_posts()} == {S.PENDING}
    assert all(
        data.count(":") >= 2
        for data in buttons(desk.telegram.message(GROUP, message["message_id"]))
    )


async def test_second_approver_cannot_answer_someone_elses_edit_prompt(desk: Desk) -> None:
    """Only the editor who asked may answer the edit prompt; another approver's reply is refused
    and audited, and after the editor's own reply the preview is back to its main buttons."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(5))
    mid = message["message_id"]
    facebook = next(p for p in desk.storage.list_posts() if p.channel == "facebook")
    await answered(desk, desk.tap(mid, f"em:{facebook.article_id}"), bot)
    await answered(desk, desk.tap(mid, f"ed:{facebook.id}"), bot)
    (prompt,) = await wait_for(lambda: prompts(desk))
    assert prompt["reply_markup"] == {"force_reply": True, "selective": True}
    assert f"tg://user?id={APPROVER}" in prompt["source"]
    before = len(desk.bot_messages())
    desk.telegram.inject_message(
        GROUP, SECOND, "Nội dung của người khác", reply_to_message_id=prompt["message_id"],
        first_name=SECOND_NAME,
    )  # fmt: skip
    await wait_for(lambda: len(desk.bot_messages()) > before)
    await bot.idle()
    assert "chỉ" in body(desk.bot_messages()[-1]) and "người đã yêu cầu" in body(
        desk.bot_messages()[-1]
    )
    assert desk.storage.get_post(facebook.id).payload == facebook.payload
    refused = refusals(desk, "not_prompt_owner")
    assert len(refused) == 1 and refused[0].actor == f"telegram:{SECOND} {SECOND_NAME}"
    await reply(desk, bot, prompt["message_id"], "Nội dung mới của người yêu cầu")
    assert desk.storage.get_post(facebook.id).payload["message"].startswith("Nội dung mới")
    shown = await wait_for(
        lambda: (
            (m := desk.telegram.message(GROUP, mid))
            and "Nội dung mới của người yêu cầu" in body(m)
            and m
        )
    )
    assert f"ap:{facebook.article_id}" in actions(shown)


async def test_photo_caption_edit_keeps_the_article_url(desk: Desk) -> None:
    """An edited Facebook caption without the article URL gets it back, and the editor is told."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(6))
    facebook = next(p for p in desk.storage.list_posts() if p.channel == "facebook")
    photo = {"url": "https://portal.example.gov.vn/anh.jpg", "caption": "Chú thích cũ"}
    desk.storage.edit_post(
        facebook.id, replace(facebook.post, payload=photo), actor="test", now=datetime.now(UTC)
    )
    bot.refresh(facebook.article_id, force=True)
    await bot.idle()
    mid = message["message_id"]
    await answered(desk, desk.tap(mid, f"em:{facebook.article_id}"), bot)
    await answered(desk, desk.tap(mid, f"ed:{facebook.id}"), bot)
    (prompt,) = await wait_for(lambda: prompts(desk))
    await reply(desk, bot, prompt["message_id"], "Chú thích mới")
    url = desk.storage.get_article(facebook.article_id).canonical_url
    assert desk.storage.get_post(facebook.id).payload["caption"] == f"Chú thích mới\n\n{url}"
    assert "Liên kết bài gốc đã được thêm lại" in body(desk.bot_messages()[-1])


async def test_cli_approve_goes_through_decisions_and_shows_in_telegram(desk: Desk) -> None:
    """`syndicator approve aN` decides through Decisions (audit via=cli) and the Telegram
    preview of that article shows the decision after the bot's next tick."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(7))
    aid = desk.storage.list_posts()[0].article_id
    ctx = Context(argparse.Namespace(id=f"a{aid}", config=None))
    ctx._storage, ctx._settings = desk.storage, desk.settings()
    assert cli_posts.approve(ctx) == 0
    assert cli_posts.approve(ctx) == 1  # the second time: already approved, nothing moves
    approved = [e for e in desk.storage.audit_events() if e.kind == "post.approved"]
    assert len(approved) == 2 and all('"via":"cli"' in e.data.replace(" ", "") for e in approved)
    await bot.tick(datetime.now(UTC))
    await bot.idle()
    current = await wait_for(
        lambda: (
            (m := desk.telegram.message(GROUP, message["message_id"]))
            and "Đã duyệt bởi cli:" in body(m)
            and m
        )
    )
    assert not buttons(current)


async def test_send_lost_after_delivery_is_resent_once_and_both_are_edited(desk: Desk) -> None:
    """Telegram stores the preview but the answer never comes: one re-send after the delay,
    the lost message is found, and approving edits both; no third message ever."""
    bot = await desk.bot()
    bot.unconfirmed.resend_after = timedelta(0)
    (earlier,) = await preview_of(desk, bot, article(10))  # the bot has been running a while
    desk.telegram.add_fault("accept_then_drop", "sendmessage")
    await preview_of(desk, bot, article(8))
    aid = max(p.article_id for p in desk.storage.list_posts())
    assert len(desk.previews()) == 2 and not desk.storage.previews_of(aid)
    await bot.tick(datetime.now(UTC))
    await bot.idle()
    _, first, second = desk.previews()
    stored = sorted(p.message_id for p in desk.storage.previews_of(aid))
    assert stored == [first["message_id"], second["message_id"]]
    assert desk.telegram.message(GROUP, first["message_id"])["history"] == []  # probe was a no-op
    await answered(desk, desk.tap(second["message_id"], f"ap:{aid}"), bot)
    for m in (first, second):
        shown = desk.telegram.message(GROUP, m["message_id"])
        assert "Đã duyệt bởi" in body(shown) and not buttons(shown)
    await bot.tick(datetime.now(UTC))
    await bot.idle()
    assert len(desk.previews()) == 3
    assert buttons(desk.telegram.message(GROUP, earlier["message_id"]))  # untouched


async def test_lost_preview_is_adopted_when_tapped(desk: Desk) -> None:
    """A delivered preview whose id the bot never learned is bound to its article on the first
    tap (its own buttons name it) and is edited like any other preview."""
    bot = await desk.bot()
    bot.unconfirmed.resend_after = timedelta(hours=1)  # no re-send during this test
    desk.telegram.add_fault("accept_then_drop", "sendmessage")
    (lost,) = await preview_of(desk, bot, article(9))
    aid = desk.storage.list_posts()[0].article_id
    answer = await answered(desk, desk.tap(lost["message_id"], f"ap:{aid}"), bot)
    assert answer["answer_text"] == T.ANS_APPROVED
    assert [p.message_id for p in desk.storage.previews_of(aid)] == [lost["message_id"]]
    assert "Đã duyệt bởi" in body(desk.telegram.message(GROUP, lost["message_id"]))
