"""Local stand-ins of the Graph API, the Zalo OA OpenAPI and the Telegram Bot API.

Tests, the demo and staff training point the real clients at these servers through config.
"""

from syndicator.sandbox.graph import GraphServer

__all__ = ["GraphServer"]
