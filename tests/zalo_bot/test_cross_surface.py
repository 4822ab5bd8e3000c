"""Telegram and Zalo side by side: a decision on one surface shows on the other.

Both surfaces are built by the daemon's own Runtime (daemon.py), so the wiring under test is the
one that runs: the Zalo decisions core calls the Telegram bot's refresh, and the Zalo surface
notices a Telegram decision on its next tick. Every call goes over real sockets to the stand-ins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

import daemon
from syndicator.config import parse_config
from syndicator.sandbox import TelegramServer
from tests.approval.conftest import APPROVER, APPROVER_NAME, GROUP, TOKEN, body, buttons
from tests.zalo_bot.conftest import A_ID, A_NAME, B_ID, B_NAME, ZDesk, article, wait_for

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def both(zdesk: ZDesk) -> AsyncIterator[tuple[ZDesk, TelegramServer, daemon.Runtime]]:
    """The Zalo desk plus a Telegram stand-in; a Runtime with surfaces = both, both started."""
    telegram = TelegramServer([TOKEN], flood_rate=None)
    await telegram.start()
    telegram.add_chat(GROUP, "Ban biên tập", "supergroup")
    raw: dict[str, Any] = {**zdesk.raw}
    raw["approval"] = {
        **raw["approval"], "mode": "telegram", "surfaces": ["telegram", "zalo_bot"],
        "bot_token": TOKEN, "chat_id": GROUP, "approvers": [APPROVER],
        "api_base": f"{telegram.base_url}/bot", "send_interval": "0s", "poll_timeout": 1,
    }  # fmt: skip
    runtime = daemon.Runtime(parse_config(raw), zdesk.storage, zdesk.client)
    await runtime.bot.start()
    await runtime.zalo.start()
    try:
        yield zdesk, telegram, runtime
    finally:
        await runtime.zalo.stop()
        await runtime.bot.stop()
        await runtime.poller.close()
        runtime.leader.release()
        await telegram.stop()


def _preview(telegram: TelegramServer) -> dict[str, Any] | None:
    """The bot's preview in the staff group (the first message with buttons or a stamp)."""
    bot = [m for m in telegram.chat_messages(GROUP) if m["from"].get("is_bot")]
    return next((m for m in bot if "chờ duyệt" in body(m)[:80] or buttons(m)), None)


async def _previews_out(desk: ZDesk, telegram: TelegramServer, runtime: daemon.Runtime) -> int:
    (aid,) = desk.add(article(31))
    now = datetime.now(UTC)
    await runtime.bot.tick(now)
    await runtime.bot.idle()
    await wait_for(lambda: _preview(telegram))
    await runtime.zalo.tick(now)
    return aid


async def test_a_decision_on_zalo_stamps_the_telegram_preview(
    both: tuple[ZDesk, TelegramServer, daemon.Runtime],
) -> None:
    """`duyệt N` on Zalo: the Telegram preview loses its buttons and shows who approved."""
    desk, telegram, runtime = both
    await desk.link(A_ID, A_NAME)
    aid = await _previews_out(desk, telegram, runtime)
    preview = _preview(telegram)
    assert preview is not None and buttons(preview), preview
    assert any(f"Bài số {aid} chờ duyệt" in t for t in desk.texts(A_ID))
    answer = await desk.ask(A_ID, f"duyệt {aid}", A_NAME)
    assert f"Đã duyệt bài số {aid}" in answer and A_NAME in answer
    await runtime.bot.idle()

    def stamped() -> dict[str, Any] | None:
        message = telegram.message(GROUP, preview["message_id"]) or {}
        return message if "Đã duyệt bởi" in body(message) and not buttons(message) else None

    message = await wait_for(stamped)
    assert A_NAME in body(message), body(message)
    events = list(desk.storage.audit_events(kinds=["post.approved"]))
    assert events and all('"via":"zalo_bot"' in e.data for e in events)


async def test_a_decision_on_telegram_is_noted_in_the_zalo_chats(
    both: tuple[ZDesk, TelegramServer, daemon.Runtime],
) -> None:
    """A tap on Telegram's "Duyệt": every linked Zalo approver is told who decided and when;
    a later `duyệt N` on Zalo decides nothing more."""
    desk, telegram, runtime = both
    await desk.link(A_ID, A_NAME)
    await desk.link(B_ID, B_NAME)
    aid = await _previews_out(desk, telegram, runtime)
    for user in (A_ID, B_ID):
        assert any(f"Bài số {aid} chờ duyệt" in t for t in desk.texts(user))
    preview = _preview(telegram)
    assert preview is not None
    data = next(d for d in buttons(preview) if d.startswith("ap:"))
    query = telegram.inject_callback(GROUP, preview["message_id"], APPROVER, data,
                                     first_name=APPROVER_NAME)  # fmt: skip
    await wait_for(lambda: any(a["id"] == query for a in telegram.answered_callbacks()))
    await runtime.bot.idle()
    posts = desk.storage.list_posts(article_id=aid)
    assert posts and all(p.decided_by and p.decided_by.startswith("telegram:") for p in posts)
    await runtime.zalo.tick(datetime.now(UTC))
    for user in (A_ID, B_ID):
        note = f"Bài số {aid} đã được {APPROVER_NAME} duyệt"
        assert any(note in t for t in desk.texts(user)), desk.texts(user)
    before = len(desk.texts(B_ID))
    await runtime.zalo.tick(datetime.now(UTC))  # the note is sent once
    assert len(desk.texts(B_ID)) == before
    later = await desk.ask(B_ID, f"duyet {aid}", B_NAME)
    assert "Đã được xử lý bởi" in later and APPROVER_NAME in later, later
    assert {p.decided_by for p in desk.storage.list_posts(article_id=aid)} == {
        p.decided_by for p in posts
    }
