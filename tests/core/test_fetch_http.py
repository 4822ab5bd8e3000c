"""The fetcher over real sockets, on each engine: aiohttp directly (FeedSessions), and the
shared httpx client on either transport. The same answers from all three: cookies, redirects,
conditional GETs, hints, timeouts, and the guards of issue 10 on raw bytes."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from syndicator.sources.feed_session import FeedSessions
from syndicator.sources.fetch import Fetcher, build_client

HOSTILE = Path(__file__).parents[1] / "data" / "hostile"
# "direct": feeds through aiohttp itself (the daemon's default); the other two are the shared
# httpx client on its `aiohttp` and `httpx` transports (CLI discover, tests, transport="httpx").
MODES = ["direct", "aiohttp", "httpx"]


@contextlib.asynccontextmanager
async def fetcher_on(mode: str, timeout: float = 5, **kwargs: object) -> AsyncIterator[Fetcher]:
    transport = "aiohttp" if mode == "direct" else mode
    engine = None
    if mode == "direct":
        engine = FeedSessions(user_agent="test-ua", connect_timeout=timeout, read_timeout=timeout)
    client = build_client(
        user_agent="test-ua", connect_timeout=timeout, read_timeout=timeout, transport=transport
    )
    try:
        async with client:
            yield Fetcher(client, engine=engine, **kwargs)  # type: ignore[arg-type]
    finally:
        if engine is not None:
            await engine.aclose()


@pytest.fixture
async def site() -> AsyncIterator[tuple[str, list[web.Request]]]:
    """A portal on 127.0.0.1 (an IP host, as many provincial portals are) with one route per
    behaviour under test; every request is recorded."""
    seen: list[web.Request] = []
    bomb = gzip.compress(bytes(8 * 1024 * 1024), 9)  # 8 MiB of zeros in ~8 KB

    async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
        seen.append(request)
        return await handler(request)

    async def login(request: web.Request) -> web.Response:
        response = web.Response(text="ok")
        response.set_cookie("session", "abc123", path="/")
        return response

    async def feed(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        headers = {
            "ETag": '"v1"',
            "Last-Modified": "Fri, 14 Nov 2025 03:00:00 GMT",
            "Cache-Control": "public, max-age=600",
            "Retry-After": "120",
        }
        return web.Response(body=b"<rss/>", content_type="application/rss+xml", headers=headers)

    def encoded(body: bytes, coding: str):  # type: ignore[no-untyped-def]
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=body, headers={"Content-Encoding": coding})

        return handler

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="late")

    routes = {
        "/login": login,
        "/feed": feed,
        "/old": _fixed(301, {"Location": "/mid"}),
        "/mid": _fixed(302, {"Location": "feed"}),  # relative, resolved against /mid
        "/loop": _fixed(302, {"Location": "/loop"}),
        "/gone": _fixed(410),
        "/gzip": encoded(gzip.compress(b"<rss>gzip</rss>"), "gzip"),
        "/double": encoded((HOSTILE / "gzip_gzip_bomb.bin").read_bytes(), "gzip, gzip"),
        "/bomb": encoded(bomb, "gzip"),
        "/huge": _fixed(200, body=bytes(2 * 1024 * 1024)),
        "/slow": slow,
    }
    app = web.Application(middlewares=[web.middleware(record)])
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


def _fixed(status: int, headers: dict[str, str] | None = None, body: bytes = b""):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers=headers, body=body)

    return handler


@pytest.mark.parametrize("mode", MODES)
async def test_cookies_set_by_a_response_are_sent_back(
    site: tuple[str, list[web.Request]], mode: str
) -> None:
    """A session cookie set by an IP host (aiohttp's jar needs unsafe=True) comes back."""
    base, seen = site
    async with fetcher_on(mode) as fetcher:
        assert (await fetcher.fetch(f"{base}/feed")).ok
        assert (await fetcher.fetch(f"{base}/login")).ok
        assert (await fetcher.fetch(f"{base}/feed")).ok
        if mode != "direct":
            assert fetcher.client.cookies.get("session") == "abc123"
    cookies = [r.headers.get("Cookie") for r in seen if r.path == "/feed"]
    assert cookies == [None, "session=abc123"]


@pytest.mark.parametrize("mode", MODES)
async def test_redirects_are_followed_and_the_final_url_reported(
    site: tuple[str, list[web.Request]], mode: str
) -> None:
    """301 then a relative 302: the body of the last answer, with its URL; a loop is an error."""
    base, seen = site
    async with fetcher_on(mode) as fetcher:
        result = await fetcher.fetch(f"{base}/old")
        looped = await fetcher.fetch(f"{base}/loop")
    assert result.ok and result.status == 200 and result.body == b"<rss/>"
    assert result.url == f"{base}/old" and result.final_url == f"{base}/feed"
    assert [r.path for r in seen[:3]] == ["/old", "/mid", "/feed"]
    assert not looped.ok and looped.error and "redirect" in looped.error.lower()


@pytest.mark.parametrize("mode", MODES)
async def test_conditional_get_headers_and_server_hints(
    site: tuple[str, list[web.Request]], mode: str
) -> None:
    """User-Agent, Accept-Encoding and the validators go out; ETag, max-age, Retry-After and
    304 come back; an HTTP error is a result with its status and reason."""
    base, seen = site
    async with fetcher_on(mode) as fetcher:
        first = await fetcher.fetch(f"{base}/feed")
        second = await fetcher.fetch(
            f"{base}/feed", etag=first.etag, last_modified=first.last_modified
        )
        gone = await fetcher.fetch(f"{base}/gone")
    assert first.etag == '"v1"' and first.last_modified == "Fri, 14 Nov 2025 03:00:00 GMT"
    assert first.max_age is not None and first.max_age.total_seconds() == 600
    assert first.retry_after is not None and first.retry_after.total_seconds() == 120
    assert second.not_modified and second.status == 304 and second.body == b""
    sent = seen[1].headers
    assert sent["User-Agent"] == "test-ua" and sent["Accept-Encoding"] == "gzip, deflate"
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Fri, 14 Nov 2025 03:00:00 GMT"
    assert "application/rss+xml" in sent["Accept"]
    assert gone.status == 410 and gone.error == "HTTP 410 Gone"


@pytest.mark.parametrize("mode", MODES)
async def test_raw_bytes_are_decoded_by_our_guards(
    site: tuple[str, list[web.Request]], mode: str
) -> None:
    """One gzip layer decodes; two layers, a bomb past the cap and an oversized body are
    errors of that fetch (issue 10), on every engine."""
    base, _ = site
    async with fetcher_on(mode, max_body_bytes=1024 * 1024) as fetcher:
        plain = await fetcher.fetch(f"{base}/gzip")
        double = await fetcher.fetch(f"{base}/double")
        bomb = await fetcher.fetch(f"{base}/bomb")
        huge = await fetcher.fetch(f"{base}/huge")
    assert plain.ok and plain.body == b"<rss>gzip</rss>"
    assert double.error and "more than one compression layer" in double.error
    assert bomb.error and "once decompressed" in bomb.error
    assert huge.error == "response larger than the 1024 KiB cap (fetch.max_body_bytes)"


@pytest.mark.parametrize("mode", MODES)
async def test_timeouts_and_refused_connections_are_results(
    site: tuple[str, list[web.Request]], mode: str
) -> None:
    """A read timeout is named as httpx names it; a closed port is an error, not an exception."""
    base, _ = site
    async with fetcher_on(mode, timeout=0.5) as fetcher:
        slow = await fetcher.fetch(f"{base}/slow")
        refused = await fetcher.fetch("http://127.0.0.1:9/feed.xml")
        bad = await fetcher.fetch("http://[::1")
    assert slow.error == "timeout: ReadTimeout"
    assert refused.error and not refused.ok and refused.status is None
    assert bad.error and bad.error.startswith("invalid URL")


async def test_a_closed_engine_fails_fetches_without_raising() -> None:
    """After aclose (the daemon stopping), a late fetch is an error result, not a crash."""
    async with fetcher_on("direct") as fetcher:
        assert fetcher.engine is not None
        await fetcher.engine.aclose()
        result = await fetcher.fetch("http://127.0.0.1:9/feed.xml")
    assert result.error and "closed" in result.error
