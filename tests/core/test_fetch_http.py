"""The shared HTTP client over real sockets: cookies still round-trip on both transports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from syndicator.sources.fetch import Fetcher, build_client


@pytest.fixture
async def cookie_site() -> AsyncIterator[tuple[str, list[str | None]]]:
    """/login sets a session cookie (as some portals' anti-bot pages do); /feed echoes it."""
    seen: list[str | None] = []

    async def login(request: web.Request) -> web.Response:
        response = web.Response(text="ok")
        response.set_cookie("session", "abc123", path="/")
        return response

    async def feed(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        return web.Response(body=b"<rss/>", content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/login", login)
    app.router.add_get("/feed", feed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_cookies_set_by_a_response_are_sent_back(
    cookie_site: tuple[str, list[str | None]], transport: str
) -> None:
    base, seen = cookie_site
    async with build_client(
        user_agent="test", connect_timeout=5, read_timeout=5, transport=transport
    ) as client:
        fetcher = Fetcher(client)
        first = await fetcher.fetch(f"{base}/feed")
        assert first.ok and seen == [None]
        assert (await fetcher.fetch(f"{base}/login")).ok
        assert client.cookies.get("session") == "abc123"
        assert (await fetcher.fetch(f"{base}/feed")).ok
    assert seen == [None, "session=abc123"]


async def test_an_unparseable_url_is_a_fetch_error_not_an_exception() -> None:
    async with build_client(user_agent="test", connect_timeout=1, read_timeout=1) as client:
        result = await Fetcher(client).fetch("http://[::1")
    assert not result.ok and result.error
