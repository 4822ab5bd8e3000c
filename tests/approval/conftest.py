"""A staff desk for approval tests: Telegram, Graph and Zalo stand-ins, real storage, the bot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import daemon
from syndicator.approval import ApprovalBot, build_bot
from syndicator.config import Settings, parse_config
from syndicator.publishing.publisher import Publisher
from syndicator.sandbox import GraphServer, TelegramServer, ZaloServer
from syndicator.storage import Storage, open_storage
from syndicator.types import Article
from tests.publishing.conftest import article, fast_publishing

TOKEN = "123456:SANDBOX-TOKEN"
GROUP = -1001234567890
ADMIN_CHAT = -1009876543210
APPROVER, APPROVER_NAME = 111111111, "Nguyễn Văn A"
SECOND, SECOND_NAME = 444444444, "Trần Thị B"
ADMIN, ADMIN_NAME = 222222222, "Lê Quản Trị"
STRANGER = 333333333

# PTB warns that RetryAfter.retry_after will become a timedelta; the bot reads both forms.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

__all__ = ["article"]


@dataclass
class Desk:
    telegram: TelegramServer
    graph: GraphServer
    zalo: ZaloServer
    storage: Storage
    client: httpx.AsyncClient
    raw: dict[str, Any]
    bots: list[ApprovalBot] = field(default_factory=list)

    def settings(self, **approval: Any) -> Settings:
        raw = {**self.raw, "approval": {**self.raw["approval"], **approval}}
        return parse_config(raw)

    def channels(self, settings: Settings | None = None) -> dict[str, Any]:
        return daemon.build_channels(settings or self.settings(), self.storage, self.client)

    async def bot(self, settings: Settings | None = None, **kw: Any) -> ApprovalBot:
        """A started bot on the desk's database (stopped by the fixture)."""
        settings = settings or self.settings()
        bot = build_bot(settings, self.storage, self.channels(settings), **kw)
        await bot.start()
        self.bots.append(bot)
        return bot

    def publisher(self, bot: ApprovalBot | None, settings: Settings | None = None) -> Publisher:
        settings = settings or self.settings()
        return daemon.build_publisher(
            settings, self.storage, self.channels(settings),
            listener=bot.on_post_event if bot else None,
        )  # fmt: skip

    def add(self, *articles: Article) -> list[Article]:
        return self.storage.add_articles("portal", list(articles), datetime.now(UTC)).new

    def messages(self, chat: int = GROUP) -> list[dict[str, Any]]:
        return self.telegram.chat_messages(chat)

    def bot_messages(self, chat: int = GROUP) -> list[dict[str, Any]]:
        return [m for m in self.messages(chat) if m["from"].get("is_bot")]

    def previews(self) -> list[dict[str, Any]]:
        return [m for m in self.bot_messages() if m.get("reply_markup") or "chờ duyệt" in
                (m.get("text") or m.get("caption") or "")[:60]]  # fmt: skip

    def tap(
        self, message_id: int, data: str, user: int = APPROVER, name: str = APPROVER_NAME,
        *, exact: bool = False,
    ) -> str:  # fmt: skip
        """Press a button: `data` without its revision ("ap:7") means the button of the message
        that starts so, as a person would press it; `exact` sends `data` as given."""
        if not exact:
            data = self.button(message_id, data) or data
        return self.telegram.inject_callback(GROUP, message_id, user, data, first_name=name)

    def button(self, message_id: int, prefix: str, chat: int = GROUP) -> str | None:
        """The callback data shown on a message whose action and ids are `prefix`."""
        message = self.telegram.message(chat, message_id) or {}
        return next((d for d in buttons(message) if d.rsplit(":", 1)[0] == prefix), None)

    def answer_of(self, query_id: str) -> dict[str, Any] | None:
        return next((a for a in self.telegram.answered_callbacks() if a["id"] == query_id), None)


def body(message: dict[str, Any]) -> str:
    return message.get("text") or message.get("caption") or ""


def buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def actions(message: dict[str, Any]) -> list[str]:
    """The buttons' callback data without the revision suffix ("ap:7", "sp:7:1h")."""
    return [data.rsplit(":", 1)[0] for data in buttons(message)]


async def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until `condition()` is truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout}s")


async def answered(desk: Desk, query_id: str, bot: ApprovalBot | None = None) -> dict[str, Any]:
    """Wait for the bot's answer to a tap, then for the edits it queued."""
    answer = await wait_for(lambda: desk.answer_of(query_id))
    await asyncio.sleep(0.05)  # the handler queues its edits right after answering
    if bot is not None:
        await bot.idle()
    return answer


@pytest.fixture
async def desk(db_url: str) -> AsyncIterator[Desk]:
    """Stand-ins for Telegram (no flood limit unless a test sets one), Graph and Zalo."""
    telegram = TelegramServer([TOKEN], flood_rate=None)
    graph, zalo = GraphServer(), ZaloServer(verify_pending_calls=1)
    for server in (telegram, graph, zalo):
        await server.start()
    raw = {
        "database": {"url": db_url},
        "sources": [{"id": "portal", "url": "https://portal.example.gov.vn/rss",
                     "agency": "UBND tỉnh"}],
        "approval": {"mode": "telegram", "bot_token": TOKEN, "chat_id": GROUP,
                     "admin_chat_id": ADMIN_CHAT, "approvers": [APPROVER, SECOND],
                     "admins": [ADMIN], "api_base": f"{telegram.base_url}/bot",
                     "send_interval": "0s", "poll_timeout": 1},
        **fast_publishing(graph, zalo),
    }  # fmt: skip
    storage = open_storage(db_url)
    async with httpx.AsyncClient() as client:
        desk = Desk(telegram, graph, zalo, storage, client, raw)
        try:
            yield desk
        finally:
            for bot in desk.bots:
                await bot.stop()
            storage.close()
            for server in (desk.telegram, graph, zalo):
                await server.stop()
