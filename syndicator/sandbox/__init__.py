"""Local stand-ins of the Graph API, the Zalo OA OpenAPI and the Telegram Bot API.

Tests, the demo and staff training point the real clients at these servers through config.
"""

from syndicator.sandbox.graph import GraphServer
from syndicator.sandbox.telegram import TelegramServer
from syndicator.sandbox.zalo import ZaloServer

__all__ = ["GraphServer", "TelegramServer", "ZaloServer"]
