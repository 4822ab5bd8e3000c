"""The training console in a real headless chromium, against the real stand-ins and a real Bot."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from syndicator.sandbox import GraphServer, TelegramServer, ZaloServer
from syndicator.sandbox.console import ConsoleServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TOKEN = "123456:SANDBOX-TOKEN"
STAFF_CHAT = -1001000000001
ADMIN_CHAT = -1001000000002
TRAINEE = 4242

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"{CHROMIUM} is missing: run scripts/ensure-browser.sh as root to install chromium",
    ),
]


@dataclass
class Room:
    telegram: TelegramServer
    graph: GraphServer
    zalo: ZaloServer
    console_url: str
    page: Any


@pytest.fixture
async def room() -> AsyncIterator[Room]:
    """The three stand-ins, the console on top of them, and a chromium page open on it."""
    from playwright.async_api import async_playwright

    telegram = TelegramServer([TOKEN], flood_rate=None)
    graph, zalo = GraphServer(), ZaloServer()
    for server in (telegram, graph, zalo):
        await server.start()
    telegram.add_chat(ADMIN_CHAT, "Quản trị syndicator", "supergroup")
    console = ConsoleServer(
        telegram, graph, zalo, staff_chat_id=STAFF_CHAT, trainee_id=TRAINEE,
        trainee_name="Chị Lan", admin_chat_id=ADMIN_CHAT,
    )  # fmt: skip
    url = await console.start()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        try:
            yield Room(telegram, graph, zalo, url, page)
        finally:
            await browser.close()
            for server in (console, telegram, graph, zalo):
                await server.stop()


async def until(predicate: Any, timeout: float = 10.0) -> Any:
    """Wait for predicate() to be truthy (the stand-ins live in this loop, so yield to it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_pressing_a_button_reaches_the_bot_as_the_trainee(room: Room) -> None:
    """A keyboard sent by a real Bot shows on the page; a click is recorded as the trainee's."""
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Duyệt", callback_data="ok:17"),
                InlineKeyboardButton("✏️ Sửa", callback_data="edit:17"),
            ],
            [InlineKeyboardButton("❌ Từ chối", callback_data="no:17")],
        ]
    )
    async with Bot(TOKEN, base_url=f"{room.telegram.base_url}/bot") as bot:
        sent = await bot.send_message(
            STAFF_CHAT,
            "<b>Bài chờ duyệt</b> &lt;script&gt;alert(1)&lt;/script&gt;\n"
            '<a href="https://portal.example.gov.vn/tin/17">Xem bài gốc</a>',
            parse_mode="HTML",
            reply_markup=keyboard,
        )
    page = room.page
    await page.goto(room.console_url)
    message = page.locator(f'[data-message-id="{sent.message_id}"]')
    await message.locator("b", has_text="Bài chờ duyệt").wait_for(timeout=10_000)
    # The escaped <script> arrives as text, never as an element.
    assert await message.locator("script").count() == 0
    assert "<script>alert(1)</script>" in await message.inner_text()
    link = message.locator("a", has_text="Xem bài gốc")
    assert await link.get_attribute("href") == "https://portal.example.gov.vn/tin/17"

    await message.get_by_role("button", name="✅ Duyệt").click()
    bot_state = room.telegram.bot()
    record = await until(
        lambda: next((r for r in bot_state.callbacks.values() if r.data == "ok:17"), None)
    )
    assert record.user["id"] == TRAINEE and record.user["first_name"] == "Chị Lan"
    assert record.chat_id == STAFF_CHAT and record.message_id == sent.message_id
    update = bot_state.updates[-1]["callback_query"]
    assert update["data"] == "ok:17" and update["from"]["id"] == TRAINEE


async def test_reply_box_answers_a_forced_reply_prompt(room: Room) -> None:
    """A force_reply prompt gets the reply box; the typed text reaches the bot as a reply."""
    # Raw Bot API over HTTP: PTB 22 cannot parse the stand-in's echo of a ForceReply markup
    # (the real API echoes only inline keyboards in the returned Message).
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{room.telegram.base_url}/bot{TOKEN}/sendMessage",
            json={
                "chat_id": STAFF_CHAT,
                "text": "Nhập lý do từ chối bài #17:",
                "reply_markup": {"force_reply": True, "input_field_placeholder": "Lý do"},
            },
        )
    prompt_id = response.json()["result"]["message_id"]
    page = room.page
    await page.goto(room.console_url)
    await page.locator(f'[data-message-id="{prompt_id}"]').wait_for(timeout=10_000)
    await page.locator("#replying").wait_for(state="visible", timeout=10_000)
    await page.fill("#message-text", "Trùng với bài đã đăng hôm qua")
    await page.click("#send")
    bot_state = room.telegram.bot()
    update = await until(
        lambda: next((u["message"] for u in bot_state.updates if "message" in u), None)
    )
    assert update["text"] == "Trùng với bài đã đăng hôm qua"
    assert update["from"]["id"] == TRAINEE
    assert update["reply_to_message"]["message_id"] == prompt_id


async def test_a_graph_post_shows_on_the_page(room: Room) -> None:
    """A post created on the Graph stand-in over HTTP appears in the Facebook pane."""
    page = room.page
    await page.goto(room.console_url)
    await page.locator("#facebook .empty").wait_for(timeout=10_000)
    page_id, tokens = next(iter(room.graph.pages.items()))
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{room.graph.base_url}/v23.0/{page_id}/feed",
            data={
                "message": "UBND tỉnh thông báo lịch tiếp công dân tháng 11",
                "link": "https://portal.example.gov.vn/tin/18",
                "access_token": next(iter(tokens)),
            },
        )
    assert response.status_code == 200, response.text
    post_id = response.json()["id"]
    post = page.locator(f'#facebook [data-post-id="{post_id}"]')
    await post.wait_for(timeout=10_000)
    assert "lịch tiếp công dân tháng 11" in await post.inner_text()
    assert await post.locator("a").get_attribute("href") == "https://portal.example.gov.vn/tin/18"


async def test_admin_chat_alerts_show_read_only(room: Room, tmp_path: Any) -> None:
    """An alert a real Bot sends to the admin chat shows in its own pane, escaped, no buttons."""
    async with Bot(TOKEN, base_url=f"{room.telegram.base_url}/bot") as bot:
        sent = await bot.send_message(
            ADMIN_CHAT,
            "🚨 Nguồn «so-tc» không lấy được tin (5 lần liên tiếp). Máy chủ của cổng thông tin "
            "đang gặp lỗi (lỗi 503).\n<script>alert(1)</script>",
        )
        await bot.send_message(STAFF_CHAT, "📰 Bài mới chờ duyệt")
    page = room.page
    await page.goto(room.console_url)
    alert = page.locator(f'#admin [data-message-id="{sent.message_id}"]')
    await alert.wait_for(timeout=10_000)
    text = await alert.inner_text()
    assert "Máy chủ của cổng thông tin đang gặp lỗi (lỗi 503)." in text
    assert "<script>alert(1)</script>" in text  # shown as text, never run
    assert await page.locator("#admin button").count() == 0
    # The staff group's message stays in the staff pane only.
    assert "Bài mới chờ duyệt" in await page.locator("#telegram").inner_text()
    assert "Bài mới chờ duyệt" not in await page.locator("#admin").inner_text()
    await page.set_viewport_size({"width": 1600, "height": 900})
    await page.screenshot(path=str(tmp_path / "console-admin.png"), full_page=True)


async def test_facebook_pane_keeps_line_breaks(room: Room) -> None:
    """A Graph post's paragraphs stay on their own lines in the Facebook pane."""
    page = room.page
    await page.goto(room.console_url)
    await page.locator("#facebook .empty").wait_for(timeout=10_000)
    page_id, tokens = next(iter(room.graph.pages.items()))
    message = "UBND tỉnh thông báo\n\nLịch tiếp công dân tháng 11\n– Thứ Hai: 8 giờ"
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{room.graph.base_url}/v23.0/{page_id}/feed",
            data={"message": message, "access_token": next(iter(tokens))},
        )
    assert response.status_code == 200, response.text
    body = page.locator(f'#facebook [data-post-id="{response.json()["id"]}"] .message')
    await body.wait_for(timeout=10_000)
    # innerText follows the rendering: with white-space: normal the newlines became spaces.
    assert await body.inner_text() == message
    assert await body.evaluate("e => getComputedStyle(e).whiteSpace") == "pre-wrap"
