"""What the Telegram stand-in remembers per bot: chats, messages with edit history, updates,
callback queries, commands; plus reply-markup validation and the per-chat flood control."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

CALLBACK_DATA_MAX_BYTES = 64
BUTTON_ACTIONS = (
    "callback_data", "url", "login_url", "switch_inline_query", "copy_text", "pay",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "web_app",
    "callback_game",
)  # fmt: skip


class TelegramError(Exception):
    """Raised inside a handler to answer `{"ok": false, ...}` with this status."""

    def __init__(self, description: str, code: int = 400, parameters: dict | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> TelegramError:
    return TelegramError(f"Bad Request: {detail}")


@dataclass
class StoredMessage:
    """A message as the chat currently shows it, with every earlier version in `history`."""

    message_id: int
    chat: dict[str, Any]
    date: int
    sender: dict[str, Any]
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    photo: list[dict[str, Any]] | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: dict[str, Any] | None = None
    source: str | None = None  # the text or caption exactly as the client sent it
    parse_mode: str | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        """The Bot API Message object."""
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": self.chat,
            "from": self.sender,
        }
        optional = {
            "text": self.text,
            "entities": self.entities or None,
            "caption": self.caption,
            "caption_entities": self.caption_entities or None,
            "photo": self.photo,
            # Telegram returns Message.reply_markup only for inline keyboards; a ForceReply
            # echoed here would make python-telegram-bot fail to parse the message.
            "reply_markup": _inline_only(self.reply_markup),
            "reply_to_message": _without_force_reply(self.reply_to),
            "edit_date": self.edit_date,
        }
        message.update({key: value for key, value in optional.items() if value is not None})
        return message

    def snapshot(self) -> dict[str, Any]:
        """The parts an edit can change, for the history list."""
        return {
            "text": self.text,
            "caption": self.caption,
            "source": self.source,
            "reply_markup": self.reply_markup,
            "edit_date": self.edit_date,
        }

    def view(self) -> dict[str, Any]:
        """What a test wants to read: the current state plus history and flags."""
        # The markup as sent (a ForceReply included), unlike the Bot API object above.
        raw = {"reply_markup": self.reply_markup} if self.reply_markup else {}
        return {**self.to_api(), **raw, "source": self.source, "parse_mode": self.parse_mode,
                "deleted": self.deleted, "history": list(self.history)}  # fmt: skip


@dataclass
class CallbackRecord:
    """One injected button press and what the bot answered."""

    id: str
    chat_id: int
    message_id: int
    data: str
    user: dict[str, Any]
    created_at: float
    answered: bool = False
    answer_text: str | None = None
    show_alert: bool = False
    answered_at: float | None = None


class BotState:
    """Everything one bot token owns."""

    def __init__(self, token: str) -> None:
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.token = token
        self.user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Sandbox Bot",
            "username": f"sandbox_{bot_id}_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, dict[int, StoredMessage]] = {}
        self.updates: list[dict[str, Any]] = []
        self.next_update_id = 1
        self.allowed_updates: list[str] | None = None
        self.webhook_url: str | None = None  # set: getUpdates answers 409 (telegram_updates)
        self.callbacks: dict[str, CallbackRecord] = {}
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.poll_generation = 0
        self.changed = asyncio.Event()

    def wake(self) -> None:
        """Wake every held getUpdates so it re-checks the queue (or notices it lost)."""
        self.changed.set()
        self.changed = asyncio.Event()

    def push_update(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = self.next_update_id
        self.next_update_id += 1
        self.updates.append({"update_id": update_id, kind: payload})
        self.wake()
        return update_id

    def chat(self, chat_id: Any) -> dict[str, Any]:
        """The chat object; unknown numeric ids become a group (negative) or a private chat."""
        try:
            number = int(chat_id)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        if number not in self.chats:
            if number < 0:
                self.chats[number] = {"id": number, "type": "supergroup",
                                      "title": f"Sandbox group {number}"}  # fmt: skip
            else:
                self.chats[number] = {"id": number, "type": "private", "first_name": "Staff"}
        return self.chats[number]

    def store(self, chat: dict[str, Any], sender: dict[str, Any], **fields: Any) -> StoredMessage:
        messages = self.messages.setdefault(chat["id"], {})
        message_id = max(messages, default=0) + 1
        message = StoredMessage(message_id, chat, int(time.time()), sender, **fields)
        messages[message_id] = message
        return message

    def find(self, chat_id: Any, message_id: Any, missing: str) -> StoredMessage:
        try:
            message = self.messages.get(int(chat_id), {}).get(int(message_id))
        except (TypeError, ValueError):
            message = None
        if message is None or message.deleted:
            raise bad_request(missing)
        return message


def validate_markup(markup: Any) -> dict[str, Any] | None:
    """Check an InlineKeyboardMarkup the way the API does; other markups pass unchanged."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for row in rows:
        for button in row:
            _validate_button(button)
    return markup


def _validate_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not any(key in button for key in BUTTON_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_MAX_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = urlparse(str(button["url"]))
        if url.scheme not in ("http", "https", "tg") or (url.scheme != "tg" and not url.netloc):
            raise bad_request(
                f"inline keyboard button URL '{button['url']}' is invalid: Wrong HTTP URL"
            )


class FloodControl:
    """Per-chat token bucket: `burst` messages at once, then `rate` per second.

    The real limit is "about one message per second per chat" with short bursts (3.8); the
    bucket makes that deterministic enough for tests. `rate=None` turns it off.
    """

    def __init__(self, burst: int = 3, rate: float | None = 1.0, clock=time.monotonic) -> None:
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self._buckets: dict[tuple[str, int], tuple[float, float]] = {}

    def check(self, token: str, chat_id: int) -> None:
        """Spend one token or raise the 429 Telegram would send."""
        if self.rate is None:
            return
        now = self.clock()
        tokens, last = self._buckets.get((token, chat_id), (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[(token, chat_id)] = (tokens, now)
            raise too_many_requests(max(1, math.ceil((1.0 - tokens) / self.rate)))
        self._buckets[(token, chat_id)] = (tokens - 1.0, now)


class GroupLimit:
    """At most `limit` new messages per `window` seconds to one group, as a sliding window.

    Telegram: "your bot will not be able to send more than 20 messages per minute to the same
    group" (Bots FAQ, quoted by the python-telegram-bot wiki "Avoiding flood limits" and PTB's
    `constants.FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP = 20`; api-notes 3.8). Past it the API
    answers 429 with `parameters.retry_after` (Bot API "ResponseParameters"), here the seconds
    until the oldest message leaves the window. Only sends count; `window=None` turns it off.
    """

    def __init__(self, limit: int = 20, window: float | None = 60.0, clock=time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.refused = 0  # how many 429s it answered (tests assert there was no storm)
        self._sent: dict[tuple[str, int], list[float]] = {}

    def check(self, token: str, chat: dict[str, Any]) -> None:
        if self.window is None or chat.get("type") not in ("group", "supergroup"):
            return
        now = self.clock()
        times = [t for t in self._sent.get((token, chat["id"]), []) if t > now - self.window]
        if len(times) >= self.limit:
            self._sent[(token, chat["id"])] = times
            self.refused += 1
            raise too_many_requests(max(1, math.ceil(times[0] + self.window - now)))
        self._sent[(token, chat["id"])] = [*times, now]


def too_many_requests(retry_after: int) -> TelegramError:
    return TelegramError(
        f"Too Many Requests: retry after {retry_after}", 429, {"retry_after": retry_after}
    )


def _inline_only(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    return markup if markup and "inline_keyboard" in markup else None


def _without_force_reply(message: dict[str, Any] | None) -> dict[str, Any] | None:
    if not message or "reply_markup" not in message:
        return message
    markup = _inline_only(message["reply_markup"])
    rest = {k: v for k, v in message.items() if k != "reply_markup"}
    return {**rest, "reply_markup": markup} if markup else rest
