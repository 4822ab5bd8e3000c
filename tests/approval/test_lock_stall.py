"""A held database write lock does not hold up the bot (issue 11, point 3).

Another connection holds the write lock: on SQLite `BEGIN IMMEDIATE` (as a second process or a
long write would), on PostgreSQL an EXCLUSIVE lock on the tables a decision writes (reads
still pass, writes wait, as SQLite's lock does). While it is held an editor taps ✅ Duyệt (the
decision's write has to wait) and then asks /help and /lich: both are answered by the running
bot, through the Telegram stand-in, while the lock is still held. The decision goes through
once the lock is released. No timing is asserted beyond "answered while still held".
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from syndicator.types import PostStatus
from tests.approval.conftest import APPROVER, GROUP, Desk, answered, body, wait_for
from tests.approval.test_flow import preview_of
from tests.publishing.conftest import article

S = PostStatus
HOLD_S = 30.0  # a safety net only: the test releases the lock itself


class WriteLock:
    """Holds the database's write lock from another connection, in a thread."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.held, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        if self.db_url.startswith("sqlite"):
            conn = sqlite3.connect(Path(self.db_url.removeprefix("sqlite:///")), timeout=30,
                                   isolation_level=None)  # fmt: skip
            try:
                conn.execute("BEGIN IMMEDIATE")
                self.held.set()
                self.release.wait(HOLD_S)
                conn.execute("ROLLBACK")
            finally:
                conn.close()
            return
        engine = create_engine(self.db_url)
        try:
            with engine.begin() as conn:
                # EXCLUSIVE lets SELECTs through and makes every writer wait (PostgreSQL docs,
                # "Explicit Locking": it conflicts with ROW EXCLUSIVE, which writes take).
                conn.execute(text("LOCK TABLE posts, audit_events, approval_values "
                                  "IN EXCLUSIVE MODE"))  # fmt: skip
                self.held.set()
                self.release.wait(HOLD_S)
        finally:
            engine.dispose()

    async def __aenter__(self) -> WriteLock:
        self.thread.start()
        await asyncio.to_thread(self.held.wait, 10)
        assert self.held.is_set(), "could not take the write lock"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await asyncio.to_thread(self.thread.join, 10)


async def reply_to(desk: Desk, text: str) -> str:
    """Send a command as the approver; wait for the bot's next message and return it."""
    before = len(desk.bot_messages())
    desk.telegram.inject_message(GROUP, APPROVER, text, first_name="Nguyễn Văn A")
    reply = await wait_for(lambda: desk.bot_messages()[before:], timeout=15)
    return body(reply[0])


async def test_a_held_write_lock_delays_neither_help_nor_lich(desk: Desk, db_url: str) -> None:
    """A tap's decision waits for the lock; /help and /lich are answered meanwhile."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(1))
    aid = desk.storage.list_posts()[0].article_id
    async with WriteLock(db_url) as lock:
        tap = desk.tap(message["message_id"], f"ap:{aid}")
        await asyncio.sleep(0.3)  # the tap reaches the bot and its decision queues for the lock
        help_text = await reply_to(desk, "/help")
        lich_text = await reply_to(desk, "/lich")
        still_held = not lock.release.is_set()
        statuses = {p.status for p in desk.storage.list_posts()}  # a read: passes the lock
    assert still_held
    assert "/lich" in help_text and "/pending" in help_text  # the command list, in Vietnamese
    assert "Hôm nay" in lich_text or "hôm nay" in lich_text.lower()
    assert statuses == {S.PENDING}, "the decision could not have been written under the lock"
    answer = await answered(desk, tap, bot)  # once released, the decision goes through
    assert answer["answer_text"] == "Đã duyệt. Bài sẽ được đăng."
    assert {p.status for p in desk.storage.list_posts()} == {S.APPROVED}


@pytest.mark.parametrize("command", ["/pending", "/whoami"])
async def test_reads_answer_under_a_held_lock(desk: Desk, db_url: str, command: str) -> None:
    """Commands that only read answer while another connection holds the write lock."""
    bot = await desk.bot()
    await preview_of(desk, bot, article(2))
    async with WriteLock(db_url) as lock:
        reply = await reply_to(desk, command)
        still_held = not lock.release.is_set()
    assert still_held and reply
