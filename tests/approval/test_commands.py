"""Slash commands through the real PTB: roles by user id, other chats ignored, effects audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from syndicator.storage.channels import ACTIVE, PAUSED
from syndicator.types import PostStatus as S
from tests.approval.conftest import (
    ADMIN,
    ADMIN_NAME,
    APPROVER,
    GROUP,
    STRANGER,
    Desk,
    article,
    body,
    wait_for,
)
from tests.approval.test_flow import preview_of


async def command(desk: Desk, bot, text: str, user: int, chat: int = GROUP) -> str | None:  # type: ignore[no-untyped-def]
    """Send a command as `user`; return the bot's reply text (None when it stays silent)."""
    before = len(desk.bot_messages(chat))
    desk.telegram.inject_message(chat, user, text, first_name=ADMIN_NAME)
    try:
        await wait_for(lambda: len(desk.bot_messages(chat)) > before, timeout=1.5)
    except AssertionError:
        return None
    await bot.idle()
    return body(desk.bot_messages(chat)[-1])


async def test_commands_registered_in_vietnamese(desk: Desk) -> None:
    """setMyCommands lists every command with a Vietnamese description."""
    await desk.bot()
    (commands,) = desk.telegram.bot().commands.values()
    names = [c["command"] for c in commands]
    assert names == [
        "pending",
        "lich",
        "status",
        "pause",
        "resume",
        "retry",
        "report",
        "lienket",
        "whoami",
        "help",
    ]
    assert commands[0]["description"] == "Bài đang chờ duyệt (cũ nhất trước)"


async def test_whoami_help_and_roles(desk: Desk) -> None:
    """/whoami shows anyone their id; /status needs an approver; /pause needs an admin."""
    bot = await desk.bot()
    assert f"Mã người dùng của bạn: {STRANGER}" in await command(desk, bot, "/whoami", STRANGER)
    assert "/pending" in await command(desk, bot, "/help", STRANGER)
    assert "chỉ dành cho người duyệt" in await command(desk, bot, "/status", STRANGER)
    assert "chỉ dành cho quản trị viên" in await command(desk, bot, "/pause", APPROVER)
    assert desk.storage.channel_status("facebook").status == ACTIVE
    refused = [e for e in desk.storage.audit_events() if e.kind == "approval.refused"]
    assert len(refused) == 2


async def test_other_chats_are_ignored(desk: Desk) -> None:
    """A command from a chat that is neither the staff nor the admin chat gets no answer."""
    bot = await desk.bot()
    assert await command(desk, bot, "/whoami", APPROVER, chat=-100555) is None


async def test_pending_and_status(desk: Desk) -> None:
    """/pending lists waiting articles oldest first; /status shows channels and queues."""
    bot = await desk.bot()
    await preview_of(desk, bot, article(1, title="Bài thứ nhất"), article(2, title="Bài thứ hai"))
    text = await command(desk, bot, "/pending", APPROVER)
    assert text.startswith("Bài đang chờ duyệt (2):")
    assert text.index("Bài thứ nhất") < text.index("Bài thứ hai")
    status = await command(desk, bot, "/status", ADMIN)
    assert "Kênh Facebook «facebook» đang hoạt động." in status, status
    assert "Hàng đợi: 4 bài chờ duyệt." in status


async def test_pause_resume_and_retry(desk: Desk) -> None:
    """/pause zalo pauses it (audited with the admin), /resume restores it, /retry re-approves a failed post."""
    bot = await desk.bot()
    assert "Đã tạm dừng: zalo" in await command(desk, bot, "/pause zalo", ADMIN)
    assert desk.storage.channel_status("zalo").status == PAUSED
    paused = [e for e in desk.storage.audit_events() if e.kind == "channel.paused"]
    assert paused[-1].actor == f"telegram:{ADMIN} {ADMIN_NAME}"
    assert "Đã tiếp tục: zalo" in await command(desk, bot, "/resume zalo", ADMIN)
    assert desk.storage.channel_status("zalo").status == ACTIVE
    assert "Không có kênh" in await command(desk, bot, "/pause mastodon", ADMIN)
    await preview_of(desk, bot, article(3))
    post = desk.storage.list_posts()[0]
    now = datetime.now(UTC)
    desk.storage.decide([post.id], S.APPROVED, actor="test", now=now)
    desk.storage.claim_post(post.channel, now)  # an attempt, then the permanent failure
    desk.storage.record_outcome(post.id, status=S.FAILED, now=now, error="boom",
                                error_class="permanent", event="post.failed")  # fmt: skip
    assert "sẽ được đăng lại" in await command(desk, bot, f"/retry {post.id}", ADMIN)
    assert desk.storage.get_post(post.id).status == S.APPROVED
    assert "không cần đăng lại" in await command(desk, bot, f"/retry {post.id}", ADMIN)
    await asyncio.sleep(0)


async def test_whoami_answers_in_a_private_chat(desk: Desk) -> None:
    """A new approver asks /whoami privately and gets their id; other commands stay silent."""
    bot = await desk.bot()
    private = STRANGER  # a private chat's id is the user's id (positive)
    assert f"Mã người dùng của bạn: {STRANGER}" in (
        await command(desk, bot, "/whoami", STRANGER, chat=private) or ""
    )
    assert await command(desk, bot, "/status", STRANGER, chat=private) is None


async def test_lienket_links_a_telegram_approver_without_editing_the_config(desk: Desk) -> None:
    """`approvers add` prints a code; `/lienket CODE` in a private chat binds the sender, who
    may then use approver commands; a reused code is refused; all of it audited."""
    from datetime import UTC, datetime

    bot = await desk.bot()
    now = datetime.now(UTC)
    desk.storage.add_approver("Phạm Thị Duyệt", is_admin=False, actor="cli:test", now=now)
    code = "duyet-7H2K-9QXM"
    desk.storage.issue_link_code(
        "Phạm Thị Duyệt", code, expires_at=now + timedelta(hours=1), actor="cli:test", now=now
    )
    private = STRANGER
    assert "chỉ dành cho người duyệt" in (await command(desk, bot, "/pending", STRANGER) or "")
    linked = await command(desk, bot, f"/lienket {code}", STRANGER, chat=private)
    assert linked is not None and "Phạm Thị Duyệt" in linked
    assert "chỉ dành cho người duyệt" not in (await command(desk, bot, "/pending", STRANGER) or "")
    again = await command(desk, bot, f"/lienket {code}", STRANGER, chat=private)
    assert again is not None and "đã được dùng" in again
    kinds = [e.kind for e in desk.storage.audit_events()]
    assert "approver.linked" in kinds and "approver.link_refused" in kinds
