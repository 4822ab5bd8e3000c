"""🗑 Gỡ bài on a published preview: admins only, a reason as confirmation, both channels."""

from __future__ import annotations

from syndicator.types import PostStatus as S
from tests.approval.conftest import (
    ADMIN,
    ADMIN_NAME,
    APPROVER,
    GROUP,
    Desk,
    actions,
    answered,
    article,
    body,
    wait_for,
)
from tests.approval.test_flow import preview_of


async def test_admin_takes_a_published_article_down_with_a_reason(desk: Desk) -> None:
    """After publishing the preview offers Gỡ bài; an approver who is not an admin is refused;
    the admin's reason confirms, the Page post and the OA article disappear, all audited."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(7))
    mid = message["message_id"]
    aid = desk.storage.list_posts()[0].article_id
    await answered(desk, desk.tap(mid, f"ap:{aid}"), bot)
    pub = desk.publisher(bot)
    for _ in range(3):
        await pub.run_once()
    assert {p.status for p in desk.storage.list_posts()} == {S.PUBLISHED}
    shown = await wait_for(
        lambda: (m := desk.telegram.message(GROUP, mid)) and f"gb:{aid}" in actions(m) and m
    )
    assert "gb" in " ".join(actions(shown))

    refused = await answered(desk, desk.tap(mid, f"gb:{aid}", user=APPROVER), bot)
    assert "quản trị" in (refused["answer_text"] or "")
    await answered(desk, desk.tap(mid, f"gb:{aid}", user=ADMIN, name=ADMIN_NAME), bot)
    prompt = await wait_for(
        lambda: next((m for m in desk.bot_messages() if "lý do gỡ bài" in body(m)), None)
    )
    assert f"tg://user?id={ADMIN}" in prompt.get("source", "") or ADMIN_NAME in body(prompt)
    before = len(desk.bot_messages())
    desk.telegram.inject_message(
        GROUP, ADMIN, "Sở đề nghị gỡ do sai số liệu", reply_to_message_id=prompt["message_id"],
        first_name=ADMIN_NAME,
    )  # fmt: skip
    await wait_for(lambda: len(desk.bot_messages()) > before)
    await bot.idle()
    assert desk.graph.live_posts() == [] and desk.zalo.live_articles() == []
    assert {p.status for p in desk.storage.list_posts()} == {S.REMOVED}
    asked = [e for e in desk.storage.audit_events() if e.kind == "post.takedown"]
    assert len(asked) == 2 and all(ADMIN_NAME in e.actor and "sai số liệu" in e.data for e in asked)
    assert all('"via":"telegram"' in e.data for e in asked)
    final = await wait_for(
        lambda: (m := desk.telegram.message(GROUP, mid)) and "đã gỡ" in body(m) and m
    )
    assert not any(a.startswith("gb:") for a in actions(final))
    assert desk.storage.verify_audit().ok
