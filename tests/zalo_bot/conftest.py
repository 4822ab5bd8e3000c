"""A Zalo desk: the Zalo Bot stand-in, Graph and Zalo OA stand-ins, real storage, the surface."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import daemon
from syndicator.approval.zalo_bot import ZaloBotSurface, build_surface
from syndicator.config import Settings, parse_config
from syndicator.publishing.publisher import Publisher
from syndicator.sandbox import GraphServer, ZaloServer
from syndicator.sandbox.zalo_bot import ZaloBotServer
from syndicator.storage import Storage, open_storage
from syndicator.types import Article
from tests.approval.conftest import wait_for
from tests.publishing.conftest import article, fast_publishing

A_ID, A_NAME = "8001", "Nguyễn Văn A"
B_ID, B_NAME = "8002", "Trần Thị B"
STRANGER = "8999"

__all__ = ["article", "wait_for"]


@dataclass
class ZDesk:
    bot: ZaloBotServer
    graph: GraphServer
    zalo: ZaloServer
    storage: Storage
    client: httpx.AsyncClient
    raw: dict[str, Any]
    surfaces: list[ZaloBotSurface] = field(default_factory=list)

    def settings(self, **zalo_bot: Any) -> Settings:
        approval = {**self.raw["approval"]}
        approval["zalo_bot"] = {**approval["zalo_bot"], **zalo_bot}
        return parse_config({**self.raw, "approval": approval})

    async def surface(self, settings: Settings | None = None) -> ZaloBotSurface:
        settings = settings or self.settings()
        channels = daemon.build_channels(settings, self.storage, self.client)
        surface = build_surface(settings, self.storage, channels, self.client)
        await surface.start()
        self.surfaces.append(surface)
        return surface

    def publisher(self, surface: ZaloBotSurface | None) -> Publisher:
        settings = self.settings()
        channels = daemon.build_channels(settings, self.storage, self.client)
        return daemon.build_publisher(settings, self.storage, channels,
                                      listener=surface.on_post_event if surface else None)  # fmt: skip

    def add(self, *articles: Article) -> list[int]:
        new = self.storage.add_articles("portal", list(articles), datetime.now(UTC)).new
        self.publisher(None).plan()
        return [a.id for a in new if a.id is not None]

    def approver(self, name: str, *, admin: bool = False, ttl: timedelta = timedelta(hours=1),
                 code: str = "") -> str:  # fmt: skip
        now = datetime.now(UTC)
        self.storage.add_approver(name, is_admin=admin, actor="test", now=now)
        code = code or f"CODE-{abs(hash(name)) % 10000:04d}"
        self.storage.issue_link_code(name, code, expires_at=now + ttl, actor="test", now=now)
        return code

    def texts(self, user: str) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.bot.bot_messages(user)]

    async def ask(self, user: str, text: str, name: str = "Người dùng") -> str:
        """Send a message as `user`; return the bot's first answer to it."""
        before = len(self.bot.bot_messages(user))
        self.bot.inject_message(user, text, name=name)
        await wait_for(lambda: len(self.bot.bot_messages(user)) > before)
        return self.texts(user)[before]

    async def link(self, user: str, name: str, *, admin: bool = False) -> None:
        code = self.approver(name, admin=admin)
        answer = await self.ask(user, f"lien ket {code}", name=name)
        assert "Đã liên kết" in answer, answer


@pytest.fixture
async def zdesk(db_url: str) -> AsyncIterator[ZDesk]:
    """Stand-ins for the Zalo Bot Platform, Graph and Zalo OA; a Zalo-only approval config."""
    bot, graph, zalo = ZaloBotServer(), GraphServer(), ZaloServer(verify_pending_calls=1)
    for server in (bot, graph, zalo):
        await server.start()
    raw = {
        "database": {"url": db_url},
        "sources": [{"id": "portal", "url": "https://portal.example.gov.vn/rss",
                     "agency": "UBND tỉnh"}],
        "approval": {"mode": "manual", "surfaces": ["zalo_bot"],
                     "zalo_bot": {"bot_token": bot.token, "api_base": bot.base_url,
                                  "poll_timeout": 1, "send_interval": "0s"}},
        **fast_publishing(graph, zalo),
    }  # fmt: skip
    storage = open_storage(db_url)
    async with httpx.AsyncClient() as client:
        desk = ZDesk(bot, graph, zalo, storage, client, raw)
        try:
            yield desk
        finally:
            for surface in desk.surfaces:
                await surface.stop()
            storage.close()
            for server in (bot, graph, zalo):
                await server.stop()
