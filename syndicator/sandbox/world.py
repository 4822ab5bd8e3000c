"""All stand-ins together (sample portal, Graph, Zalo OA, Telegram, Zalo Bot) and a config.

`syndicator sandbox` runs a world for demos and training; `syndicator demo` runs one, the real
daemon against it and a scripted approver. Fixed ports make the training console bookmarkable;
port 0 (tests) picks free ones.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any

import tomli_w

from syndicator.sandbox.graph import GraphServer
from syndicator.sandbox.portal import PortalServer
from syndicator.sandbox.sample_portal import SamplePortal
from syndicator.sandbox.telegram import TelegramServer
from syndicator.sandbox.zalo import ZaloServer
from syndicator.sandbox.zalo_bot import ZaloBotServer

BOT_TOKEN = "123456:SANDBOX-TOKEN"
STAFF_CHAT = -1001234567890
ADMIN_CHAT = -1001234567891
APPROVER = 111111111
APPROVER_NAME = "Nguyễn Văn An"
PAGE_ID = "1000000001"
PAGE_TOKEN = "PAGE_TOKEN"
ZALO_BOT_TOKEN = "1234567890:SANDBOX-ZALO-BOT"
ZALO_APPROVER = "6100000001"  # a Zalo user id (private chat id) on the Zalo Bot stand-in
ZALO_APPROVER_NAME = "Trần Thị Bình"


@dataclass
class SandboxWorld:
    host: str = "127.0.0.1"
    base_port: int = 0  # 0: free ports; else portal=base, graph=+1, zalo=+2, telegram=+3, bot=+4
    portal: PortalServer = field(init=False)
    graph: GraphServer = field(init=False)
    zalo: ZaloServer = field(init=False)
    telegram: TelegramServer = field(init=False)
    zalo_bot: ZaloBotServer = field(init=False)
    sample: SamplePortal = field(init=False)

    def __post_init__(self) -> None:
        port = lambda n: self.base_port + n if self.base_port else 0  # noqa: E731
        self.portal = PortalServer(self.host, port(0))
        self.graph = GraphServer(
            {PAGE_ID: [PAGE_TOKEN]},
            page_names={PAGE_ID: "Tỉnh (sandbox)"},
            host=self.host,
            port=port(1),
        )
        self.zalo = ZaloServer(verify_pending_calls=1, host=self.host, port=port(2))
        # Flood control stays on: the bot must live with Telegram's real limits.
        self.telegram = TelegramServer((BOT_TOKEN,), host=self.host, port=port(3))
        # Approving on Zalo (issue 13): staff who have no Telegram answer the Zalo bot.
        self.zalo_bot = ZaloBotServer((ZALO_BOT_TOKEN,), host=self.host, port=port(4))
        self.sample = SamplePortal(self.portal)

    async def start(self) -> None:
        for server in (self.portal, self.graph, self.zalo, self.telegram, self.zalo_bot):
            await server.start()
        self.telegram.add_chat(STAFF_CHAT, "Ban biên tập Cổng TTĐT", "supergroup")
        self.telegram.add_chat(ADMIN_CHAT, "Quản trị syndicator", "supergroup")
        self.sample.publish_all_feeds()

    async def stop(self) -> None:
        for server in (self.zalo_bot, self.telegram, self.zalo, self.graph, self.portal):
            await server.stop()

    def config(self, database_url: str, *, interval: str = "10s") -> dict[str, Any]:
        """A complete config pointing every base URL at the stand-ins."""
        return {
            "database": {"url": database_url},
            "logging": {"level": "warning"},
            "poll": {"jitter": 0},
            "sources": [
                {"id": s["id"], "name": s["name"], "agency": s["agency"], "kind": "rss",
                 "url": self.sample.feed_url(s["id"]), "interval": interval}
                for s in self.sample.sources
            ],
            "channels": {
                "facebook": {"kind": "facebook_page", "page_id": PAGE_ID, "access_token": PAGE_TOKEN,
                             "api_base": self.graph.base_url, "api_version": "v23.0"},
                "zalo": {"kind": "zalo_oa", "app_id": self.zalo.app_id,
                         "secret_key": self.zalo.secret_key, "refresh_token": self.zalo.refresh_token,
                         "api_base": self.zalo.api_base, "oauth_base": self.zalo.oauth_base,
                         "author": "Cổng TTĐT tỉnh",
                         "default_cover_url": self.portal.url("/img/lu-2025.jpg"),
                         "verify_delay": "0.5s"},
            },
            "approval": {
                "mode": "telegram", "surfaces": ["telegram", "zalo_bot"], "bot_token": BOT_TOKEN, "chat_id": STAFF_CHAT,
                "admin_chat_id": ADMIN_CHAT, "approvers": [APPROVER], "admins": [APPROVER],
                "api_base": f"{self.telegram.base_url}/bot", "poll_timeout": 1,
                "file_base": f"{self.telegram.base_url}/file/bot",
                "zalo_bot": {"bot_token": ZALO_BOT_TOKEN, "api_base": self.zalo_bot.base_url,
                             "poll_timeout": 1, "send_interval": "0.2s"},
            },
            "publishing": {"interval": "1s", "reconcile_delay": "2s", "pause_between": "0.2s"},
        }  # fmt: skip

    def config_toml(self, database_url: str, *, interval: str = "10s") -> str:
        """The same config as TOML, for `syndicator --config FILE run` against the sandbox."""
        text = tomli_w.dumps(self.config(database_url, interval=interval))
        tomllib.loads(text)  # what we write must read back
        return text
