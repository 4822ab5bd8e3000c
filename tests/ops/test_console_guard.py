"""The training console refuses what a hostile page could send: forms, other origins, other
Host names, requests without the per-run token; the page itself works (real HTTP)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from syndicator.sandbox.console import ConsoleServer
from syndicator.sandbox.graph import GraphServer
from syndicator.sandbox.telegram import TelegramServer
from syndicator.sandbox.zalo import ZaloServer

TOKEN = "123456:SANDBOX-TOKEN"
STAFF_CHAT = -1001000000001


@pytest.fixture
async def console() -> AsyncIterator[tuple[ConsoleServer, TelegramServer]]:
    """The console over the three stand-ins, with the staff chat."""
    telegram = TelegramServer([TOKEN], flood_rate=None)
    graph, zalo = GraphServer(), ZaloServer()
    for server in (telegram, graph, zalo):
        await server.start()
    telegram.add_chat(STAFF_CHAT, "Ban biên tập", "supergroup")
    console = ConsoleServer(telegram, graph, zalo, staff_chat_id=STAFF_CHAT, trainee_id=42)
    await console.start()
    try:
        yield console, telegram
    finally:
        for server in (console, telegram, graph, zalo):
            await server.stop()


async def test_console_posts_need_json_same_origin_and_the_page_token(
    console: tuple[ConsoleServer, TelegramServer],
) -> None:
    """Only the served page's JSON POST with its token gets through; the rest is refused."""
    server, telegram = console
    url = server.base_url
    async with httpx.AsyncClient() as client:
        page = (await client.get(f"{url}/")).text
        token = re.search(r'name="console-token" content="([^"]+)"', page)
        assert token is not None and token.group(1) == server.token
        good = {"X-Console-Token": token.group(1), "Origin": url}
        send = f"{url}/api/send"
        form = await client.post(send, data={"text": "x"}, headers=good)
        assert form.status_code == 415
        bare = await client.post(send, json={"text": "x"})
        assert bare.status_code == 403 and "token" in bare.json()["error"]
        wrong = await client.post(
            send, json={"text": "x"}, headers={**good, "X-Console-Token": "no"}
        )
        assert wrong.status_code == 403
        evil = await client.post(
            send, json={"text": "x"}, headers={**good, "Origin": "http://evil.example"}
        )
        assert evil.status_code == 403
        site = await client.post(
            send, json={"text": "x"}, headers={**good, "Sec-Fetch-Site": "cross-site"}
        )
        assert site.status_code == 403
        rebound = await client.get(f"{url}/api/state", headers={"Host": "attacker.example"})
        assert rebound.status_code == 421
        assert telegram.chat_messages(STAFF_CHAT, TOKEN) == []
        ok = await client.post(send, json={"text": "Đã xem"}, headers=good)
        assert ok.status_code == 200 and ok.json()["ok"] is True
    assert [m["text"] for m in telegram.chat_messages(STAFF_CHAT, TOKEN)] == ["Đã xem"]
