"""A stand-in for the Telegram Bot API, good enough for python-telegram-bot 22 (api-notes 3).

Point PTB at it with `base_url=f"{server.base_url}/bot"`. Every configured token is its own bot
with its own chats and update queue. Fault scopes: a method name ("sendmessage"), "send"
(sendMessage/sendPhoto), "edit" (the editMessage* methods), "any" (everything but getUpdates,
which only sees faults scoped "getupdates"). Kinds: "429" (retry_after), "error" (error_code,
description), "accept_then_drop" / "drop", "accept_then_hang" (hold), "drop_before",
"http500_no_body", "slow" (delay).
Accept-then-time-out: "accept_then_hang" stores the message and holds the answer past the
client's read timeout (PTB raises TimedOut); "accept_then_drop" stores it and drops the
connection (PTB raises NetworkError). Both are the case api-notes 0 / 3.9 warn about: a
sendMessage that failed on the client but was delivered (PTB: TimedOut is a NetworkError).
Flood limits: per chat, a token bucket (`flood_burst`, `flood_rate`); per group, `group_limit`
new messages per `group_window` seconds, answered with 429 and `parameters.retry_after`
(telegram_state.GroupLimit cites the sources).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from syndicator.sandbox.common import ERROR, SandboxServer, json_response
from syndicator.sandbox.telegram_html import HtmlError, parse_html, utf16_len
from syndicator.sandbox.telegram_staff import StaffMixin
from syndicator.sandbox.telegram_state import (
    BotState,
    FloodControl,
    GroupLimit,
    StoredMessage,
    TelegramError,
    bad_request,
    too_many_requests,
    validate_markup,
)
from syndicator.sandbox.telegram_updates import UpdatesMixin

TEXT_MAX = 4096
CAPTION_MAX = 1024
ANSWER_TEXT_MAX = 200
JSON_FIELDS = ("reply_markup", "allowed_updates", "link_preview_options", "entities",
               "caption_entities", "commands", "scope", "reply_parameters")  # fmt: skip
SEND_METHODS = ("sendmessage", "sendphoto")
EDIT_METHODS = ("editmessagetext", "editmessagecaption", "editmessagereplymarkup")
COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


class TelegramServer(StaffMixin, UpdatesMixin, SandboxServer):
    """Bot API stand-in for several bots at once (one per token)."""

    name = "telegram"

    def __init__(
        self,
        tokens: Iterable[str] = ("123456:SANDBOX-TOKEN",),
        *,
        flood_burst: int = 3,
        flood_rate: float | None = 1.0,
        callback_answer_window: float = 15.0,
        group_limit: int = 20,
        group_window: float | None = 60.0,
        failing_photo_urls: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.bots = {token: BotState(token) for token in tokens}
        if not self.bots:
            raise ValueError("telegram sandbox needs at least one bot token")
        self.flood = FloodControl(flood_burst, flood_rate, clock)
        self.group_limit = GroupLimit(group_limit, group_window, clock)
        self.callback_answer_window = callback_answer_window
        self.failing_photo_urls = set(failing_photo_urls)
        self.clock = clock
        self._file_ids: set[str] = set()
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)  # ids look like Telegram's
        self.methods: dict[str, Callable[..., Any]] = {
            "getme": self._get_me,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._webhook_info,
            "getupdates": self.get_updates,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "editmessagetext": self._edit_text,
            "editmessagecaption": self._edit_caption,
            "editmessagereplymarkup": self._edit_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback,
            "sendchataction": self._send_chat_action,
            "setmycommands": self._set_commands,
            "getmycommands": self._get_commands,
            "deletemycommands": self._delete_commands,
            "getchat": lambda bot, params: bot.chat(params.get("chat_id")),
        }

    # -- routing ---------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        bot = self.bots.get(request.match_info["token"])
        if bot is None:
            return json_response(TelegramError("Unauthorized", 401).body(), status=401)
        method = request.match_info["method"].lower()
        handler = self.methods.get(method)
        if handler is None:
            return json_response(TelegramError("Not Found", 404).body(), status=404)
        try:
            params = await _read_params(request)
            self.log_request(request.method, method, _loggable(params))
            fault = self._take_fault(method)
            if fault is not None and fault.kind == "429":
                raise too_many_requests(int(fault.params.get("retry_after", 5)))
            if fault is not None and fault.kind == ERROR:
                code = int(fault.params.get("error_code", 400))
                raise TelegramError(fault.params.get("description", "Bad Request"), code)
            if method in SEND_METHODS + EDIT_METHODS:
                self.flood.check(bot.token, bot.chat(params.get("chat_id"))["id"])
            if method in SEND_METHODS:
                self.group_limit.check(bot.token, bot.chat(params.get("chat_id")))
        except TelegramError as error:
            return json_response(error.body(), status=error.code)

        async def commit() -> web.StreamResponse:
            try:
                result = handler(bot, params)
                if asyncio.iscoroutine(result):
                    result = await result
            except TelegramError as error:
                return json_response(error.body(), status=error.code)
            return json_response({"ok": True, "result": result})

        return await self.apply_transport_fault(request, fault, commit)

    def _take_fault(self, method: str):
        if method == "getupdates":
            return self.faults.take(method, include_any=False)
        group = "send" if method in SEND_METHODS else "edit" if method in EDIT_METHODS else method
        return self.faults.take(method, group)

    # -- test API --------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        bots = {}
        for token, bot in self.bots.items():
            bots[token] = {
                "user": bot.user,
                "chats": {
                    str(chat_id): self.chat_messages(chat_id, token) for chat_id in bot.messages
                },
                "callback_queries": [vars(r).copy() for r in bot.callbacks.values()],
                "pending_updates": list(bot.updates),
                "commands": bot.commands,
            }
        return {"bots": bots}

    def control_actions(self) -> dict[str, Callable[..., Any]]:
        return {
            **super().control_actions(),
            "inject_callback": self.inject_callback,
            "inject_message": self.inject_message,
            "add_chat": self.add_chat,
        }

    # -- methods ---------------------------------------------------------------------------

    def _get_me(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        return bot.user

    def _delete_webhook(self, bot: BotState, params: dict[str, Any]) -> bool:
        if _flag(params.get("drop_pending_updates")):
            bot.updates.clear()
        bot.webhook_url = None
        return True

    def _set_webhook(self, bot: BotState, params: dict[str, Any]) -> bool:
        # An empty url removes the webhook (Bot API setWebhook; eternnoir/pyTelegramBotAPI#139).
        bot.webhook_url = str(params.get("url") or "") or None
        return True

    def _webhook_info(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": bot.webhook_url or "", "has_custom_certificate": False,
                "pending_update_count": len(bot.updates)}  # fmt: skip

    def _send_message(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        chat = bot.chat(params.get("chat_id"))
        text, entities = _render(params.get("text"), params, TEXT_MAX, "message text")
        message = bot.store(
            chat, bot.user, text=text, entities=entities, source=params.get("text"),
            parse_mode=params.get("parse_mode"), reply_markup=self._markup(params),
        )  # fmt: skip
        return message.to_api()

    def _send_photo(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        chat = bot.chat(params.get("chat_id"))
        photo = self._photo_sizes(params.get("photo"))
        caption, entities = _render(params.get("caption"), params, CAPTION_MAX, "message caption")
        message = bot.store(
            chat, bot.user, photo=photo, caption=caption or None, caption_entities=entities,
            source=params.get("caption"), parse_mode=params.get("parse_mode"),
            reply_markup=self._markup(params),
        )  # fmt: skip
        return message.to_api()

    def _edit_text(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        message = self._editable(bot, params)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        text, entities = _render(params.get("text"), params, TEXT_MAX, "message text")
        # Leaving out reply_markup removes the keyboard, as on the real API.
        markup = self._markup(params)
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise bad_request(NOT_MODIFIED)
        self._record_edit(message, params.get("text"), params.get("parse_mode"), markup)
        message.text, message.entities = text, entities
        return message.to_api()

    def _edit_caption(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        message = self._editable(bot, params)
        if message.photo is None:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = _render(params.get("caption"), params, CAPTION_MAX, "message caption")
        markup = self._markup(params)
        current = (message.caption or "", message.caption_entities, message.reply_markup)
        if (caption, entities, markup) == current:
            raise bad_request(NOT_MODIFIED)
        self._record_edit(message, params.get("caption"), params.get("parse_mode"), markup)
        message.caption, message.caption_entities = caption or None, entities
        return message.to_api()

    def _edit_markup(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        message = self._editable(bot, params)
        markup = self._markup(params)
        if markup == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        self._record_edit(message, message.source, message.parse_mode, markup)
        return message.to_api()

    def _editable(self, bot: BotState, params: dict[str, Any]) -> StoredMessage:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline messages are not used here
        message = bot.find(
            params.get("chat_id"), params.get("message_id"), "message to edit not found"
        )
        if message.sender.get("id") != bot.user["id"]:
            raise bad_request("message can't be edited")
        return message

    def _record_edit(self, message: StoredMessage, source, parse_mode, markup) -> None:
        message.history.append(message.snapshot())
        message.source, message.parse_mode = source, parse_mode
        message.reply_markup = markup
        message.edit_date = int(time.time())

    def _delete_message(self, bot: BotState, params: dict[str, Any]) -> bool:
        found = bot.find(
            params.get("chat_id"), params.get("message_id"), "message to delete not found"
        )
        found.deleted = True
        return True

    def _answer_callback(self, bot: BotState, params: dict[str, Any]) -> bool:
        record = bot.callbacks.get(str(params.get("callback_query_id")))
        too_old = record is None or record.answered
        if record and self.clock() - record.created_at > self.callback_answer_window:
            too_old = True
        if too_old or record is None:
            raise bad_request(QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > ANSWER_TEXT_MAX:
            raise bad_request("MESSAGE_TOO_LONG")
        record.answered, record.answer_text = True, text
        record.show_alert = _flag(params.get("show_alert"))
        record.answered_at = self.clock()
        return True

    def _send_chat_action(self, bot: BotState, params: dict[str, Any]) -> bool:
        bot.chat(params.get("chat_id"))
        if not params.get("action"):
            raise bad_request("action is empty")
        return True

    def _set_commands(self, bot: BotState, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be an Array of at most 100 BotCommand")
        for command in commands:
            if not COMMAND.match(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        bot.commands[_commands_key(params)] = commands
        return True

    def _get_commands(self, bot: BotState, params: dict[str, Any]) -> list[dict[str, str]]:
        return bot.commands.get(_commands_key(params), [])

    def _delete_commands(self, bot: BotState, params: dict[str, Any]) -> bool:
        bot.commands.pop(_commands_key(params), None)
        return True

    # -- helpers ---------------------------------------------------------------------------

    def _markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        return validate_markup(params.get("reply_markup"))

    def _photo_sizes(self, photo: Any) -> list[dict[str, Any]]:
        if isinstance(photo, web.FileField):
            size = len(photo.file.read())
            if size == 0:
                raise bad_request("file must be non-empty")
        elif isinstance(photo, str) and photo.startswith(("http://", "https://")):
            if photo in self.failing_photo_urls:
                raise bad_request("failed to get HTTP URL content")
            size = 54321
        elif isinstance(photo, str) and photo in self._file_ids:
            size = 54321
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        file_id = "AgACAgUAAxkBAAI" + secrets.token_urlsafe(18)
        sizes: list[dict[str, Any]] = [
            {"file_id": f"{file_id}-s", "file_unique_id": file_id[-12:] + "s", "width": 90,
             "height": 60, "file_size": max(1, size // 20)},
            {"file_id": file_id, "file_unique_id": file_id[-12:] + "m", "width": 800,
             "height": 533, "file_size": size},
        ]  # fmt: skip
        self._file_ids.update(item["file_id"] for item in sizes)
        return sizes


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query string, then the urlencoded / multipart / JSON body; JSON-in-a-string decoded."""
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise bad_request("request body must be a JSON object")
            params.update(body)
        else:
            params.update(await request.post())
    for key in JSON_FIELDS:
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except json.JSONDecodeError:
                raise bad_request(f"can't parse {key} JSON object") from None
    return params


def _render(source: Any, params: dict[str, Any], limit: int, what: str):
    """(plain text, entities) after parse_mode, with Telegram's length checks."""
    text = "" if source is None else str(source)
    mode = str(params.get("parse_mode") or "").lower()
    entities_key = "entities" if what == "message text" else "caption_entities"
    if mode == "html":
        try:
            text, entities = parse_html(text)
        except HtmlError as error:
            raise bad_request(str(error)) from None
    else:  # Markdown modes are stored as sent; the approval bot uses HTML only
        entities = list(params.get(entities_key) or [])
    if what == "message text" and not text.strip():
        raise bad_request("message text is empty")
    if utf16_len(text) > limit:
        raise bad_request(f"{what} is too long")
    return text, entities


def _flag(value: Any) -> bool:
    return str(value).lower() in ("true", "1")


def _commands_key(params: dict[str, Any]) -> str:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True) + "|" + str(params.get("language_code") or "")


def _loggable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.filename if isinstance(v, web.FileField) else v) for k, v in params.items()}
