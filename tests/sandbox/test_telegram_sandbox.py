"""The Telegram stand-in, driven by the real python-telegram-bot and by raw httpx calls."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler

from syndicator.sandbox import TelegramServer

TOKEN = "123456:SANDBOX-TOKEN"
OTHER = "654321:OTHER-TOKEN"
GROUP = -1001234567890

# PTB warns that RetryAfter.retry_after will become a timedelta; the tests accept both.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def buttons(data="ap:1"):
    return InlineKeyboardMarkup([[InlineKeyboardButton("Duyệt", callback_data=data)]])


@pytest.fixture
async def server():
    sandbox = TelegramServer([TOKEN, OTHER], flood_rate=None)
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
async def bot(server):
    async with Bot(TOKEN, base_url=f"{server.base_url}/bot") as client:
        yield client


async def test_send_html_message_keeps_state(bot, server):
    """An HTML message comes back parsed, and the state keeps source, text and keyboard."""
    sent = await bot.send_message(
        GROUP, "<b>Tin mới</b> &amp; &lt;nóng&gt;", parse_mode="HTML", reply_markup=buttons()
    )
    assert sent.text == "Tin mới & <nóng>"
    assert sent.entities[0].type == "bold"
    assert (sent.entities[0].offset, sent.entities[0].length) == (0, 7)
    seen = server.message(GROUP, sent.message_id)
    assert seen["source"] == "<b>Tin mới</b> &amp; &lt;nóng&gt;"
    assert seen["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "ap:1"


@pytest.mark.parametrize(
    "text",
    [
        "<p>đoạn</p>",
        "<b>chưa đóng",
        "<b><i>sai thứ tự</b></i>",
        "A & B",
        "x &nbsp; y",
        "1 < 2",
        "<br>",
        '<span class="other">x</span>',
        "<code><b>x</b></code>",
    ],
)
async def test_invalid_html_is_bad_request(bot, text):
    """Unsupported, unbalanced or unescaped HTML raises BadRequest 'can't parse entities'."""
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(GROUP, text, parse_mode="HTML")


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ('<a href="https://x.vn/?a=1&amp;b=&quot;2&quot;">liên kết</a>', "liên kết"),
        ("<strong>a</strong><em>b</em><ins>c</ins><del>d</del>", "abcd"),
        ("&#39;trích&#x27; &quot;dẫn&quot;", "'trích' \"dẫn\""),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1"),
        ("<blockquote expandable>trích</blockquote>", "trích"),
        ('<tg-spoiler>ẩn</tg-spoiler> <span class="tg-spoiler">ẩn</span>', "ẩn ẩn"),
    ],
)
async def test_valid_html_is_accepted(bot, text, plain):
    """The supported tags and entities parse into the expected plain text."""
    assert (await bot.send_message(GROUP, text, parse_mode="HTML")).text == plain


async def test_length_limits_count_text_after_tags(bot):
    """4096 visible characters pass even with tags around them; 4097 fail; captions stop at 1024."""
    assert await bot.send_message(GROUP, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.send_message(GROUP, "a" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)text is empty"):
        await bot.send_message(GROUP, "<b></b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(GROUP, "https://portal.example/a.jpg", caption="c" * 1025)


async def test_callback_data_limit_is_64_bytes(bot):
    """callback_data over 64 UTF-8 bytes raises BUTTON_DATA_INVALID; 64 bytes pass."""
    assert await bot.send_message(GROUP, "ok", reply_markup=buttons("a" * 64))
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(GROUP, "x", reply_markup=buttons("ế" * 22))


async def test_send_photo_upload_url_and_file_id(bot, server):
    """Photos are accepted as an upload, a URL or a known file_id, and return PhotoSizes."""
    uploaded = await bot.send_photo(GROUP, b"\xff\xd8jpeg", caption="<i>Ảnh</i>", parse_mode="HTML")
    assert uploaded.caption == "Ảnh"
    assert len(uploaded.photo) == 2
    by_url = await bot.send_photo(GROUP, "https://portal.example/a.jpg")
    again = await bot.send_photo(GROUP, by_url.photo[-1].file_id)
    assert again.photo
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(GROUP, "not-a-file-id")
    assert server.message(GROUP, uploaded.message_id)["caption"] == "Ảnh"


async def test_edit_rules(bot, server):
    """Identical edits, text edits of photos and caption edits of texts are refused."""
    text = await bot.send_message(GROUP, "Chờ duyệt", reply_markup=buttons())
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Chờ duyệt", GROUP, text.message_id, reply_markup=buttons())
    photo = await bot.send_photo(GROUP, "https://portal.example/a.jpg", caption="Ảnh")
    with pytest.raises(BadRequest, match=r"(?i)there is no text in the message to edit"):
        await bot.edit_message_text("x", GROUP, photo.message_id)
    with pytest.raises(BadRequest, match=r"(?i)no caption"):
        await bot.edit_message_caption(GROUP, text.message_id, caption="x")
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", GROUP, 999)
    edited = await bot.edit_message_caption(GROUP, photo.message_id, caption="Đã duyệt")
    assert edited.caption == "Đã duyệt"


async def test_edits_keep_history_and_drop_keyboard(bot, server):
    """Edits record history; editing text without reply_markup removes the keyboard."""
    sent = await bot.send_message(GROUP, "Chờ duyệt", reply_markup=buttons())
    await bot.edit_message_reply_markup(GROUP, sent.message_id, reply_markup=buttons("rj:1"))
    await bot.edit_message_text("<b>Đã duyệt</b>", GROUP, sent.message_id, parse_mode="HTML")
    seen = server.message(GROUP, sent.message_id)
    assert seen["text"] == "Đã duyệt"
    assert "reply_markup" not in seen
    assert [h["text"] for h in seen["history"]] == ["Chờ duyệt", "Chờ duyệt"]
    assert seen["history"][1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "rj:1"
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_reply_markup(GROUP, sent.message_id)


async def test_answer_callback_query_rules(bot, server):
    """A fresh query can be answered once; unknown, repeated or late answers are too old."""
    sent = await bot.send_message(GROUP, "Chờ duyệt", reply_markup=buttons())
    query_id = server.inject_callback(GROUP, sent.message_id, 42, "ap:1")
    assert await bot.answer_callback_query(query_id, text="Đã duyệt")
    assert server.answered_callbacks()[0]["answer_text"] == "Đã duyệt"
    for stale in (query_id, "123"):
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(stale)
    server.callback_answer_window = 0
    late = server.inject_callback(GROUP, sent.message_id, 42, "ap:1")
    await asyncio.sleep(0.01)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(late)


async def test_wrong_token_and_unknown_method(server):
    """A wrong token is 401 (InvalidToken in PTB) and an unknown method is 404."""
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=f"{server.base_url}/bot") as wrong:
            await wrong.get_me()
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.base_url}/bot{TOKEN}/sendCarrierPigeon")
    assert response.status_code == 404
    assert response.json()["ok"] is False


async def test_flood_control_raises_retry_after(server):
    """With the default bucket a fourth quick message to one chat raises RetryAfter."""
    flooded = TelegramServer([TOKEN])
    await flooded.start()
    try:
        async with Bot(TOKEN, base_url=f"{flooded.base_url}/bot") as client:
            for number in range(3):
                await client.send_message(GROUP, f"tin {number}")
            with pytest.raises(RetryAfter) as caught:
                await client.send_message(GROUP, "tin 3")
            assert caught.value.retry_after in (1, timedelta(seconds=1))
            assert await client.send_message(GROUP + 1, "chat khác")
    finally:
        await flooded.stop()


async def test_group_limit_answers_429_with_retry_after():
    """The 21st new message within the window to one group gets 429 and parameters.retry_after
    (Telegram's ~20 messages per minute per group); edits, private chats and other groups are
    not counted, and the group accepts messages again once the window has moved on."""
    now = [1000.0]
    limited = TelegramServer([TOKEN], flood_rate=None, group_limit=20, clock=lambda: now[0])
    await limited.start()
    try:
        async with Bot(TOKEN, base_url=f"{limited.base_url}/bot") as client:
            first = None
            for number in range(20):
                sent = await client.send_message(GROUP, f"tin {number}")
                first = first or sent
                now[0] += 1.0
            with pytest.raises(RetryAfter) as caught:
                await client.send_message(GROUP, "tin 21")
            assert caught.value.retry_after in (40, timedelta(seconds=40))
            assert limited.group_limit.refused == 1
            assert await client.edit_message_text("đã sửa", GROUP, first.message_id)
            assert await client.send_message(GROUP - 1, "nhóm khác")
            assert await client.send_message(42, "chat riêng")
            now[0] += 40.0
            assert await client.send_message(GROUP, "tin 21")
    finally:
        await limited.stop()


async def test_injected_429_and_accept_then_drop(bot, server):
    """A 429 fault raises RetryAfter; accept_then_drop fails the call but keeps the message."""
    server.add_fault("429", scope="send", retry_after=7, times=1)
    with pytest.raises(RetryAfter):
        await bot.send_message(GROUP, "bị chặn")
    server.add_fault("accept_then_drop", scope="sendmessage")
    with pytest.raises(NetworkError):
        await bot.send_message(GROUP, "đã gửi")
    assert [m["text"] for m in server.chat_messages(GROUP)] == ["đã gửi"]


async def test_get_updates_offsets(bot, server):
    """Updates stay until an offset confirms them; a negative offset keeps the last N."""
    for number in range(3):
        server.inject_message(GROUP, 42, f"trả lời {number}")
    updates = await bot.get_updates()
    assert [u.message.text for u in updates] == ["trả lời 0", "trả lời 1", "trả lời 2"]
    assert len(await bot.get_updates()) == 3  # nothing confirmed yet
    remaining = await bot.get_updates(offset=updates[1].update_id)
    assert [u.update_id for u in remaining] == [updates[1].update_id, updates[2].update_id]
    last = await bot.get_updates(offset=-1)
    assert [u.update_id for u in last] == [updates[2].update_id]
    assert await bot.get_updates(offset=updates[2].update_id + 1) == ()


async def test_get_updates_holds_until_an_update_arrives(bot, server):
    """A long poll waits for an injected update instead of returning at once."""
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()
    server.inject_message(GROUP, 42, "/duyet 5")
    updates = await asyncio.wait_for(poll, 3)
    assert updates[0].message.text == "/duyet 5"
    assert updates[0].message.entities[0].type == "bot_command"


async def test_concurrent_get_updates_is_conflict(bot, server):
    """A second poller with the same token ends the held one with 409 Conflict."""
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    async with Bot(TOKEN, base_url=f"{server.base_url}/bot") as second:
        assert await second.get_updates(timeout=0) == ()
    with pytest.raises(Conflict):
        await asyncio.wait_for(first, 3)


async def test_application_polling_receives_callback_and_command(server):
    """A PTB Application started by hand receives an injected callback and a command."""
    app = ApplicationBuilder().token(TOKEN).base_url(f"{server.base_url}/bot").build()
    pressed, commanded = asyncio.Event(), asyncio.Event()

    async def on_press(update, context):
        await update.callback_query.answer("Đã duyệt")
        await update.callback_query.edit_message_reply_markup(None)
        pressed.set()

    async def on_command(update, context):
        await update.message.reply_text(f"Nhận lệnh {context.args}")
        commanded.set()

    app.add_handler(CallbackQueryHandler(on_press))
    app.add_handler(CommandHandler("status", on_command))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        sent = await app.bot.send_message(GROUP, "Chờ duyệt", reply_markup=buttons())
        server.inject_callback(GROUP, sent.message_id, 42, "ap:1", first_name="Lan")
        await asyncio.wait_for(pressed.wait(), 5)
        server.inject_message(GROUP, 42, "/status 7", reply_to_message_id=sent.message_id)
        await asyncio.wait_for(commanded.wait(), 5)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert server.answered_callbacks()[0]["answer_text"] == "Đã duyệt"
    assert "reply_markup" not in server.message(GROUP, sent.message_id)
    assert server.chat_messages(GROUP)[-1]["text"] == "Nhận lệnh ['7']"


async def test_raw_requests_json_get_and_case(server):
    """JSON bodies, GET query strings and any method-name case are all accepted."""
    base = f"{server.base_url}/bot{TOKEN}"
    markup = {"inline_keyboard": [[{"text": "Duyệt", "callback_data": "ap:2"}]]}
    async with httpx.AsyncClient() as http:
        by_json = await http.post(
            f"{base}/SENDMESSAGE", json={"chat_id": GROUP, "text": "json", "reply_markup": markup}
        )
        assert by_json.json()["result"]["reply_markup"] == markup
        by_get = await http.get(f"{base}/getme")
        assert by_get.json()["result"]["is_bot"] is True


async def test_commands_delete_and_chat_action(bot, server):
    """setMyCommands/getMyCommands round-trip; deleteMessage and sendChatAction answer true."""
    assert await bot.set_my_commands([("status", "Trạng thái"), ("pending", "Chờ duyệt")])
    assert [c.command for c in await bot.get_my_commands()] == ["status", "pending"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Có dấu", "x")])
    sent = await bot.send_message(GROUP, "xoá")
    assert await bot.delete_message(GROUP, sent.message_id)
    assert server.message(GROUP, sent.message_id)["deleted"] is True
    assert await bot.send_chat_action(GROUP, "typing")


async def test_bots_are_isolated(server):
    """Two tokens have separate chats and update queues."""
    async with Bot(OTHER, base_url=f"{server.base_url}/bot") as other:
        await other.send_message(GROUP, "bot khác")
        server.inject_message(GROUP, 42, "chỉ cho bot đầu")
        assert await other.get_updates() == ()
    assert server.chat_messages(GROUP, token=OTHER)[0]["text"] == "bot khác"
    assert server.chat_messages(GROUP)[0]["text"] == "chỉ cho bot đầu"


async def test_http_helpers(bot, server):
    """Callbacks can be injected and state read over HTTP, for subprocess tests."""
    sent = await bot.send_message(GROUP, "Chờ duyệt", reply_markup=buttons())
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        press = {"chat_id": GROUP, "message_id": sent.message_id, "user_id": 7, "data": "ap:1"}
        query_id = (await http.post("/_sandbox/inject_callback", json=press)).json()["result"]
        updates = await bot.get_updates()
        assert updates[0].callback_query.id == query_id
        assert updates[0].callback_query.message.text == "Chờ duyệt"
        await http.post("/_sandbox/faults", json={"kind": "429", "scope": "send"})
        with pytest.raises(RetryAfter):
            await bot.send_message(GROUP, "x")
        state = (await http.get("/_sandbox/state")).json()
    assert state["bots"][TOKEN]["chats"][str(GROUP)][0]["text"] == "Chờ duyệt"
    assert state["bots"][TOKEN]["callback_queries"][0]["data"] == "ap:1"
