"""A world for publishing tests: stand-in Graph and Zalo servers, real storage, real channels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import daemon
from syndicator.config import Settings, parse_config
from syndicator.publishing.publisher import Publisher
from syndicator.sandbox import GraphServer, ZaloServer
from syndicator.storage import Storage, open_storage
from syndicator.types import Article

PAGE = "1000000001"
PAGE_TOKEN = "PAGE_TOKEN"


def article(i: int, **kw: Any) -> Article:
    """A normalised article as the poller would store it."""
    base = Article(
        source_id="portal", guid=f"g{i}", url=f"https://portal.example.gov.vn/tin/{i}",
        canonical_url=f"https://portal.example.gov.vn/tin/{i}",
        title=f"Ủy ban nhân dân tỉnh thông báo lịch tiếp công dân số {i}",
        summary="Chủ tịch UBND tỉnh tiếp công dân định kỳ tại Trụ sở Tiếp công dân tỉnh.",
        content_html="<p>Nội dung chi tiết.</p><p>Đoạn thứ hai &amp; kết.</p>",
        content_text="Nội dung chi tiết. Đoạn thứ hai & kết.", image_url=None,
        published_at=datetime.now(UTC) - timedelta(minutes=5), agency="UBND tỉnh",
        categories=("tin_tuc",), content_hash=f"h{i}", fingerprint=f"f{i}",
    )  # fmt: skip
    return replace(base, **kw)


def fast_publishing(graph: GraphServer, zalo: ZaloServer) -> dict[str, Any]:
    """[publishing] with short waits and both channels pointed at the stand-ins."""
    return {
        "publishing": {"interval": "1s", "retry_initial": "10ms", "retry_max": "50ms",
                       "reconcile_delay": "0s", "pause_between": "0s"},
        "channels": {
            "facebook": {"kind": "facebook_page", "page_id": PAGE, "access_token": PAGE_TOKEN,
                         "api_base": graph.base_url, "timeout": "1s"},
            "zalo": {"kind": "zalo_oa", "app_id": zalo.app_id, "secret_key": zalo.secret_key,
                     "refresh_token": zalo.refresh_token, "api_base": zalo.api_base,
                     "oauth_base": zalo.oauth_base, "author": "Cổng TTĐT tỉnh",
                     "default_cover_url": "https://portal.example.gov.vn/logo.jpg",
                     "verify_delay": "10ms", "timeout": "1s"},
        },
    }  # fmt: skip


@dataclass
class World:
    graph: GraphServer
    zalo: ZaloServer
    storage: Storage
    client: httpx.AsyncClient
    raw: dict[str, Any]

    def settings(self, **overrides: Any) -> Settings:
        raw = {**self.raw, **overrides}
        return parse_config(raw)

    def publisher(self, settings: Settings | None = None) -> Publisher:
        settings = settings or self.settings()
        channels = daemon.build_channels(settings, self.storage, self.client)
        return daemon.build_publisher(settings, self.storage, channels)

    def add(self, *articles: Article) -> list[Article]:
        return self.storage.add_articles("portal", list(articles), datetime.now(UTC)).new


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    """Graph + Zalo stand-ins, migrated storage on each backend, channels configured for them."""
    graph, zalo = GraphServer(), ZaloServer(verify_pending_calls=1)
    await graph.start()
    await zalo.start()
    raw = {
        "database": {"url": db_url},
        "sources": [{"id": "portal", "url": "https://portal.example.gov.vn/rss", "agency": "UBND tỉnh"}],
        "approval": {"mode": "manual"},
        **fast_publishing(graph, zalo),
    }  # fmt: skip
    storage = open_storage(db_url)
    async with httpx.AsyncClient() as client:
        yield World(graph, zalo, storage, client, raw)
    storage.close()
    await graph.stop()
    await zalo.stop()
