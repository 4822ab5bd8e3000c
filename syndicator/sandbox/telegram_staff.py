"""The staff side of the Telegram stand-in: press buttons, send replies, read the chat.

These are the helpers tests and the training console use to act as people in the approval
group; they are also reachable as `POST /_sandbox/inject_callback` and friends.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

from syndicator.sandbox.telegram_state import BotState, CallbackRecord


class StaffMixin:
    """Adds the test API to TelegramServer, which provides `bots`, `bot()` and `clock`."""

    bots: dict[str, BotState]
    clock: Callable[[], float]
    _callback_ids: itertools.count[int]

    def bot(self, token: str | None = None) -> BotState:
        """The state of one bot (the first configured one by default)."""
        return self.bots[token] if token else next(iter(self.bots.values()))

    def add_chat(self, chat_id: int, title: str | None = None, type: str | None = None) -> None:
        """Name a chat (every bot sees it); unknown chats are created on first use anyway."""
        for bot in self.bots.values():
            chat = bot.chat(chat_id)
            chat["type"] = type or chat["type"]
            if title:
                chat["title" if chat["type"] != "private" else "first_name"] = title

    def inject_callback(
        self,
        chat_id: int,
        message_id: int,
        user_id: int,
        data: str,
        first_name: str = "Cán bộ",
        username: str | None = None,
        token: str | None = None,
    ) -> str:
        """Queue a button press on a message as a callback_query update; return its id."""
        bot = self.bot(token)
        user = _user(user_id, first_name, username)
        stored = bot.messages.get(int(chat_id), {}).get(int(message_id))
        if stored is not None and not stored.deleted:
            message = stored.to_api()
        else:  # date 0 makes PTB build an InaccessibleMessage
            message = {"message_id": int(message_id), "date": 0, "chat": bot.chat(chat_id)}
        query_id = str(next(self._callback_ids))
        bot.callbacks[query_id] = CallbackRecord(
            query_id, int(chat_id), int(message_id), data, user, self.clock()
        )
        payload = {"id": query_id, "from": user, "message": message, "data": data,
                   "chat_instance": str(abs(hash((bot.token, int(chat_id)))))}  # fmt: skip
        bot.push_update("callback_query", payload)
        return query_id

    def inject_message(
        self,
        chat_id: int,
        user: int | dict[str, Any],
        text: str,
        reply_to_message_id: int | None = None,
        first_name: str = "Cán bộ",
        token: str | None = None,
    ) -> int:
        """Queue a message from a staff member (a reply or a /command); return its id."""
        bot = self.bot(token)
        sender = user if isinstance(user, dict) else _user(int(user), first_name, None)
        reply_to = None
        if reply_to_message_id is not None:
            reply_to = bot.find(chat_id, reply_to_message_id, "message to reply not found")
        entities = []
        command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if command:
            entities.append({"type": "bot_command", "offset": 0, "length": command.end()})
        message = bot.store(
            bot.chat(chat_id), sender, text=text, entities=entities, source=text,
            reply_to=reply_to.to_api() if reply_to else None,
        )  # fmt: skip
        bot.push_update("message", message.to_api())
        return message.message_id

    def chat_messages(self, chat_id: int, token: str | None = None) -> list[dict[str, Any]]:
        """Every message in a chat as the staff group sees it now, oldest first."""
        messages = self.bot(token).messages.get(int(chat_id), {})
        return [message.view() for _, message in sorted(messages.items())]

    def message(self, chat_id: int, message_id: int, token: str | None = None) -> dict[str, Any]:
        """One message's current state (text or caption, reply_markup, history...)."""
        return self.bot(token).messages[int(chat_id)][int(message_id)].view()

    def answered_callbacks(self, token: str | None = None) -> list[dict[str, Any]]:
        """Callback queries the bot answered, with the answer text, in answer order."""
        records = [r for r in self.bot(token).callbacks.values() if r.answered]
        return [vars(r).copy() for r in sorted(records, key=lambda r: r.answered_at or 0)]


def _user(user_id: int, first_name: str, username: str | None) -> dict[str, Any]:
    user: dict[str, Any] = {"id": int(user_id), "is_bot": False, "first_name": first_name}
    if username:
        user["username"] = username
    return user
