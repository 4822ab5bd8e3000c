"""The two feed engines the poll tests run on, and a poller built as the daemon builds it.

`aiohttp`: feeds through aiohttp directly (FeedSessions, the default); `httpx`: through the
shared httpx client (`[fetch] transport = "httpx"`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import daemon
from syndicator.config import Settings
from syndicator.poller import Poller
from syndicator.storage import Storage

ENGINES = ("aiohttp", "httpx")


@contextlib.asynccontextmanager
async def open_poller(settings: Settings, storage: Storage, **kwargs: Any) -> AsyncIterator[Poller]:
    """The poller on the engine `[fetch] transport` names; its sessions closed on exit."""
    feeds = daemon.build_feed_sessions(settings)
    assert (feeds is not None) == (settings.fetch.transport == "aiohttp")
    try:
        async with daemon.build_http_client(settings) as client:
            yield daemon.build_poller(settings, storage, client, feeds=feeds, **kwargs)
    finally:
        if feeds is not None:
            await feeds.aclose()
