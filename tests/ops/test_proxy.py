"""Every outbound call goes through the office proxy: `[network] proxy`, HTTP(S)_PROXY, NO_PROXY.

The daemon runs as a real process against the stand-ins with a recording forward proxy in
between; the proxy must have carried the feeds, Graph, Zalo, Zalo OAuth and Telegram calls.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import tomli_w
from aiohttp import web

from syndicator.config import parse_config
from syndicator.errors import ConfigError
from syndicator.network import ProxyPlan, telegram_proxy
from syndicator.sandbox.world import APPROVER, STAFF_CHAT, SandboxWorld
from syndicator.sources.feed_session import FeedSessions
from syndicator.sources.fetch import Fetcher, build_client
from tests.e2e.daemon_helpers import Daemon, approve_data, daemon_env, until
from tests.ops.forward_proxy import ForwardProxy


@pytest.fixture
async def world() -> AsyncIterator[SandboxWorld]:
    """All stand-ins on free ports."""
    w = SandboxWorld()
    await w.start()
    yield w
    await w.stop()


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    """The recording proxy on a free port."""
    p = ForwardProxy()
    await p.start()
    yield p
    await p.stop()


def _through(proxy: ForwardProxy, base: str) -> list[str]:
    return [u for u in proxy.urls() if u.startswith(base)]


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_every_call_of_the_daemon_goes_through_the_proxy(
    world: SandboxWorld, proxy: ForwardProxy, tmp_path: Path, transport: str
) -> None:
    """Feeds, Telegram, Graph, Zalo and Zalo OAuth all pass the configured proxy."""
    raw = world.config(f"sqlite:///{tmp_path}/s.db", interval="10s")
    raw["network"] = {"proxy": proxy.url}
    raw["fetch"] = {"transport": transport}
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
    daemon = Daemon(cfg, tmp_path / "daemon.log")
    daemon.start()
    try:
        world.sample.release(datetime.now(UTC))
        message = await until(
            lambda: next(
                (m for m in world.telegram.chat_messages(STAFF_CHAT) if approve_data(m)), None
            ),
            60,
            "the preview",
        )
        assert isinstance(message, dict)
        world.telegram.inject_callback(
            STAFF_CHAT, message["message_id"], APPROVER, approve_data(message) or ""
        )
        await until(
            lambda: world.graph.live_posts() and world.zalo.live_articles(), 60, "both posts"
        )
    finally:
        await daemon.stop()
    feeds = {world.sample.feed_url(s["id"]) for s in world.sample.sources}
    assert feeds & set(proxy.urls())
    telegram = _through(proxy, world.telegram.base_url)
    assert any("/getUpdates" in u for u in telegram), telegram[:5]
    assert any("/sendMessage" in u or "/sendPhoto" in u for u in telegram), telegram[:5]
    assert _through(proxy, world.graph.base_url)
    assert _through(proxy, world.zalo.api_base)
    assert any("access_token" in u for u in _through(proxy, world.zalo.oauth_base))
    graph_urls = _through(proxy, world.graph.base_url)
    # The Page token travels in the POST body or the Authorization header (issue 10, point 7).
    assert graph_urls and not any("access_token=" in u for u in graph_urls), graph_urls[:5]


async def test_channels_check_uses_the_environment_proxy(
    world: SandboxWorld, proxy: ForwardProxy, tmp_path: Path
) -> None:
    """Without [network] proxy, HTTP_PROXY is honoured by `channels check` (aiohttp transport)."""
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps(world.config(f"sqlite:///{tmp_path}/s.db")), encoding="utf-8")
    env = daemon_env(HTTP_PROXY=proxy.url, NO_PROXY="")
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "syndicator", "--config", str(cfg), "channels", "check"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _through(proxy, world.graph.base_url)
    assert _through(proxy, world.zalo.oauth_base)

    # NO_PROXY exempts the stand-ins' address: nothing more passes the proxy.
    before = len(proxy.seen)
    env = daemon_env(HTTP_PROXY=proxy.url, NO_PROXY="127.0.0.0/8")
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "syndicator", "--config", str(cfg), "channels", "check"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(proxy.seen) == before


async def test_connect_tunnel_for_https_targets(proxy: ForwardProxy) -> None:
    """An https:// target is reached with CONNECT through the proxy, by both transports."""
    for transport in ("aiohttp", "httpx"):
        before = proxy.seen.count("CONNECT 127.0.0.1:9")
        client = build_client(
            user_agent="t", connect_timeout=2, read_timeout=2, transport=transport,
            proxy_plan=ProxyPlan(https=proxy.url),
        )  # fmt: skip
        async with client:
            # Nothing listens with TLS at the far end: the tunnel opens, the handshake fails.
            with pytest.raises(httpx.HTTPError):
                await client.get("https://127.0.0.1:9/feed.xml")
        assert proxy.seen.count("CONNECT 127.0.0.1:9") > before, transport


async def _feed_site() -> tuple[web.AppRunner, str]:
    async def feed(request: web.Request) -> web.Response:
        return web.Response(body=b"<rss/>", content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/feed.xml"


async def test_feed_engine_chooses_the_proxy_per_request(proxy: ForwardProxy) -> None:
    """The daemon's aiohttp feed engine asks the plan per URL: one portal through the proxy,
    one exempted by NO_PROXY host:port (direct), and an https:// one tunnelled by CONNECT."""
    (runner_a, via_proxy), (runner_b, direct) = await _feed_site(), await _feed_site()
    exempt = direct.split("/")[2]  # 127.0.0.1:port, the NO_PROXY entry form
    plan = ProxyPlan(http=proxy.url, https=proxy.url, no_proxy=(exempt,))
    engine = FeedSessions(user_agent="t", connect_timeout=2, read_timeout=2, proxy_plan=plan)
    client = build_client(user_agent="t", connect_timeout=2, read_timeout=2, transport="httpx")
    try:
        async with client:
            fetcher = Fetcher(client, engine=engine)
            first, second = await fetcher.fetch(via_proxy), await fetcher.fetch(direct)
            tunnelled = await fetcher.fetch("https://127.0.0.1:9/feed.xml")
            again = await fetcher.fetch(via_proxy)  # the same rule at the next poll
    finally:
        await engine.aclose()
        await runner_a.cleanup()
        await runner_b.cleanup()
    assert first.ok and second.ok and again.ok and first.body == b"<rss/>" == second.body
    assert proxy.urls().count(via_proxy) == 2 and direct not in proxy.urls()
    # Nothing listens with TLS at the far end: the tunnel opens, the handshake fails.
    assert not tunnelled.ok and "CONNECT 127.0.0.1:9" in proxy.seen


@pytest.mark.parametrize(
    ("configured", "env", "url", "expected"),
    [
        (None, {}, "https://graph.facebook.com/v23.0/me", None),
        (None, {"HTTPS_PROXY": "proxy:3128"}, "https://graph.facebook.com/", "http://proxy:3128"),
        (None, {"HTTPS_PROXY": "http://p:1"}, "http://portal.gov.vn/rss", None),
        (None, {"ALL_PROXY": "http://p:1"}, "http://portal.gov.vn/rss", "http://p:1"),
        (
            None,
            {"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:1"},
            "https://a/",
            "http://low:1",
        ),
        (
            "http://office:3128",
            {"HTTPS_PROXY": "http://p:1"},
            "https://api.telegram.org/",
            "http://office:3128",
        ),
        ("http://office:3128", {"NO_PROXY": "portal.gov.vn"}, "http://portal.gov.vn/rss", None),
        ("http://office:3128", {"NO_PROXY": "portal.gov.vn"}, "http://so.portal.gov.vn/", None),
        (
            "http://office:3128",
            {"NO_PROXY": "portal.gov.vn"},
            "http://xportal.gov.vn/",
            "http://office:3128",
        ),
        ("http://office:3128", {"NO_PROXY": ".gov.vn"}, "http://gov.vn/", "http://office:3128"),
        ("http://office:3128", {"no_proxy": "10.0.0.0/8"}, "http://10.1.2.3/rss", None),
        (
            "http://office:3128",
            {"NO_PROXY": "10.0.0.0/8"},
            "http://11.1.2.3/rss",
            "http://office:3128",
        ),
        ("http://office:3128", {"NO_PROXY": "*"}, "https://graph.facebook.com/", None),
        ("http://office:3128", {"NO_PROXY": "a.vn:8080"}, "http://a.vn:8080/", None),
        ("http://office:3128", {"NO_PROXY": "a.vn:8080"}, "http://a.vn/", "http://office:3128"),
        ("http://office:3128", {"NO_PROXY": "::1"}, "http://[::1]:9/", None),
    ],
)
def test_proxy_rules(
    configured: str | None, env: dict[str, str], url: str, expected: str | None
) -> None:
    """The one rule: [network] proxy over the env variables; NO_PROXY names, suffixes, CIDR."""
    assert ProxyPlan.build(configured, env).for_url(url) == expected
    assert ProxyPlan.build(configured, env).for_url(httpx.URL(url)) == expected


def test_proxy_config_is_validated_and_reaches_telegram() -> None:
    """A malformed proxy is a config error naming the key; a good one is Telegram's proxy too."""
    with pytest.raises(ConfigError, match=r"network\.proxy"):
        parse_config({"network": {"proxy": "proxy.local:3128"}}, env={})
    settings = parse_config({"network": {"proxy": "http://proxy.local:3128"}}, env={})
    assert telegram_proxy(settings) == "http://proxy.local:3128"
    assert "user:***@" in ProxyPlan.build("http://user:pw@p:1", {}).describe()
