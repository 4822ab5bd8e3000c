"""Fixtures for channel tests: sandbox servers on real sockets, a real httpx client, articles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from channels.base import TokenSet
from syndicator.sandbox.graph import GraphServer
from syndicator.sandbox.zalo import ZaloServer
from syndicator.types import Article

PAGE_ID = "1000000001"
PAGE_TOKEN = "PAGE_TOKEN"


class MemoryTokenStore:
    """A TokenStore in a dict that also writes every save into a shared event log."""

    def __init__(self, events: list[tuple[str, ...]] | None = None) -> None:
        self.tokens: dict[str, TokenSet] = {}
        self.events = events if events is not None else []
        self.fail_next_save = False

    def load(self, channel: str) -> TokenSet | None:
        return self.tokens.get(channel)

    def save(self, channel: str, tokens: TokenSet) -> None:
        if self.fail_next_save:
            self.fail_next_save = False
            raise OSError("disk full")
        self.tokens[channel] = tokens
        self.events.append(("save", tokens.access_token, tokens.refresh_token))


def make_article(**changes: Any) -> Article:
    """A plausible provincial article; keyword arguments replace fields."""
    article = Article(
        source_id="portal",
        guid="https://example-province.gov.vn/tin-tuc/hop-ubnd-1234.html",
        url="https://example-province.gov.vn/tin-tuc/hop-ubnd-1234.html",
        canonical_url="https://example-province.gov.vn/tin-tuc/hop-ubnd-1234.html",
        title="UBND tỉnh họp phiên thường kỳ tháng 11",
        summary="Chiều 14/11, UBND tỉnh tổ chức phiên họp thường kỳ tháng 11 năm 2025.",
        content_html="<p>Chiều 14/11, UBND tỉnh tổ chức phiên họp.</p>",
        content_text="Chiều 14/11, UBND tỉnh tổ chức phiên họp.",
        image_url="https://example-province.gov.vn/images/hop.jpg",
        published_at=datetime(2025, 11, 14, 8, 30, tzinfo=UTC),
        agency="Văn phòng UBND tỉnh",
        categories=("chi_dao_dieu_hanh",),
        id=42,
    )
    return replace(article, **changes)


@pytest.fixture
async def graph() -> AsyncIterator[GraphServer]:
    """A Graph API stand-in with one Page."""
    server = GraphServer(pages={PAGE_ID: [PAGE_TOKEN]}, page_names={PAGE_ID: "Cổng TTĐT tỉnh"})
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def zalo() -> AsyncIterator[ZaloServer]:
    """A Zalo OA stand-in whose articles verify on the second call."""
    server = ZaloServer(verify_pending_calls=1)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def events() -> list[tuple[str, ...]]:
    """An ordered log shared by the token store and the HTTP client."""
    return []


@pytest.fixture
async def http(events: list[tuple[str, ...]]) -> AsyncIterator[httpx.AsyncClient]:
    """A real httpx client that logs which Zalo access token each request carries."""

    async def log_request(request: httpx.Request) -> None:
        if "access_token" in request.headers:
            events.append(("use", request.headers["access_token"], request.url.path))

    async with httpx.AsyncClient(event_hooks={"request": [log_request]}) as client:
        yield client


@pytest.fixture
def token_store(events: list[tuple[str, ...]]) -> MemoryTokenStore:
    """An empty in-memory token store writing into the shared event log."""
    return MemoryTokenStore(events)
