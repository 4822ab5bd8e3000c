"""Previews whose send never got an answer: re-send at most once, and find the lost message.

`TimedOut` is a `NetworkError` in python-telegram-bot, and a send that timed out (or whose
connection dropped) may well have been delivered (api-notes 0 and 3.9): sendMessage is not
idempotent. So an unconfirmed preview is remembered in the database (approval value
`preview_unconfirmed:<article>`), nothing is sent for `RESEND_AFTER`, then it is sent once
more, never a third time (a second unconfirmed send raises an admin alert instead).

The message that may have been delivered has this bot's buttons but no id we know. Two ways
find it, so that a decision edits every message of the article:
- a tap on it: handlers._adopt() stores it when all its buttons name that article;
- a probe right after the re-send: `editMessageReplyMarkup` with the exact keyboard we sent,
  on each message id between the last id we knew before the lost send and the re-sent one.
  Telegram answers "message is not modified" only for a message of ours that already shows
  that keyboard (the lost preview), "message can't be edited" for other people's messages and
  "message to edit not found" for gaps, so the probe changes nothing. It runs only when every
  other id of ours in that range is known in this process (no other unconfirmed send in the
  chat, same process as the lost send); otherwise tap adoption is left to do it.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from telegram.error import BadRequest, NetworkError

from syndicator.storage import aio

if TYPE_CHECKING:
    from syndicator.approval.bot import ApprovalBot
    from syndicator.approval.preview import Keyboard

log = structlog.get_logger("syndicator.approval.unconfirmed")
KEY = "preview_unconfirmed:{article}"
RESEND_AFTER = timedelta(seconds=30)  # let Telegram settle; a late delivery shows up meanwhile
PROBE_MAX = 20  # ids probed at most after one lost send


class Unconfirmed:
    """Bookkeeping of lost sends for one bot (see the module docstring)."""

    def __init__(self, bot: ApprovalBot, resend_after: timedelta = RESEND_AFTER) -> None:
        self.bot = bot
        self.resend_after = resend_after
        self.boot = secrets.token_hex(4)  # which process recorded a lost send
        self.seen: dict[int, set[int]] = {}  # chat -> message ids this process got back
        self.last: dict[int, int] = {}  # chat -> highest such id

    def saw(self, chat_id: int, message_id: int) -> None:
        """Every message id Telegram returned to a send of this process."""
        self.seen.setdefault(chat_id, set()).add(message_id)
        self.last[chat_id] = max(self.last.get(chat_id, 0), message_id)

    def lost(
        self, article_id: int, chat_id: int, keyboard: Keyboard, photo: bool, error: Exception
    ) -> None:
        """A preview send ended without an answer: remember it instead of sending again now."""
        key = KEY.format(article=article_id)
        now = self.bot.clock()
        previous = self.state(article_id)
        attempts = int(previous.get("attempts", 0)) + 1 if previous else 1
        value = {
            "chat": chat_id, "after": self.last.get(chat_id), "boot": self.boot,
            "keyboard": [list(map(list, row)) for row in keyboard], "photo": photo,
            "attempts": attempts, "at": now.isoformat(),
        }  # fmt: skip
        self.bot.storage.set_value(key, json.dumps(value), now)
        log.warning("preview_unconfirmed", article=article_id, attempts=attempts, error=str(error))
        if attempts >= 2:
            self.bot.storage.record_event(
                "telegram.preview_failed", actor="approval", subject=f"article:{article_id}",
                data={"error": f"no answer from Telegram twice: {error}"[:500],
                      "failures": attempts}, now=now,
            )  # fmt: skip

    def state(self, article_id: int) -> dict[str, Any]:
        return _state(self.bot.storage.get_value(KEY.format(article=article_id)))

    def may_send_many(self, article_ids: list[int], now: datetime) -> set[int]:
        """The articles whose preview may be sent now, in one read (the preview desk asks
        every tick): not while a lost send waits out its delay, never after the re-send."""
        keys = {article_id: KEY.format(article=article_id) for article_id in article_ids}
        raw = self.bot.storage.get_values(list(keys.values()))
        return {a for a, key in keys.items() if self._may_send(_state(raw.get(key)), now)}

    def _may_send(self, value: dict[str, Any], now: datetime) -> bool:
        if not value:
            return True
        if int(value.get("attempts", 0)) >= 2:
            return False
        return now >= datetime.fromisoformat(str(value["at"])) + self.resend_after

    async def sent(self, article_id: int, chat_id: int, message_id: int) -> None:
        """A (re-)send of the article's preview got its answer: look for the lost one."""
        found = await aio.call(self._candidates, article_id, chat_id, message_id)
        if found is not None:
            await self._probe(article_id, chat_id, *found)

    def _candidates(
        self, article_id: int, chat_id: int, message_id: int
    ) -> tuple[list[int], dict[str, Any]] | None:
        """The message ids that may be the lost send, and its record; blocking (storage)."""
        value = self.state(article_id)
        if not value:
            return None
        self.bot.storage.delete_values([KEY.format(article=article_id)])
        after = value.get("after")
        others = self._chat_values(chat_id, exclude=article_id)
        if value.get("boot") != self.boot or after is None or others:
            log.info("preview_probe_skipped", article=article_id)
            return None
        known = self.seen.get(chat_id, set()) | self._stored_ids(chat_id)
        candidates = [i for i in range(int(after) + 1, message_id) if i not in known]
        return candidates[:PROBE_MAX], value

    def _chat_values(self, chat_id: int, *, exclude: int) -> list[dict[str, Any]]:
        """Other lost sends still outstanding (their articles have no preview row yet)."""
        out = []
        for article_id in self.bot.storage.articles_needing_preview(limit=1000):
            value = self.state(article_id) if article_id != exclude else {}
            if value and value.get("chat") == chat_id:
                out.append(value)
        return out

    def _stored_ids(self, chat_id: int) -> set[int]:
        ids = {p.message_id for p in self.bot.storage.open_previews() if p.chat_id == chat_id}
        return ids

    async def _probe(
        self, article_id: int, chat_id: int, candidates: list[int], value: dict[str, Any]
    ) -> None:
        from syndicator.approval.bot import markup

        keyboard = markup(
            tuple(tuple((str(a), str(b)) for a, b in row) for row in value["keyboard"])
        )
        for message_id in candidates:
            try:
                await self.bot.app.bot.edit_message_reply_markup(
                    chat_id, message_id, reply_markup=keyboard
                )
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    await aio.call(
                        self.bot.storage.record_preview, article_id, chat_id, message_id,
                        has_photo=bool(value.get("photo")), now=self.bot.clock(),
                    )  # fmt: skip
                    log.warning("preview_found", article=article_id, message=message_id)
                    return
                continue  # someone else's message, or no message: nothing changed
            except NetworkError as exc:
                log.warning("preview_probe_failed", article=article_id, error=str(exc))
                return
            # The edit succeeded: an untracked message of ours now shows these buttons. The
            # guards above should make this impossible; make it loud if they ever fail.
            log.error("preview_probe_edited", article=article_id, message=message_id)
            await aio.call(
                self.bot.storage.record_preview, article_id, chat_id, message_id,
                has_photo=bool(value.get("photo")), now=self.bot.clock(),
            )  # fmt: skip
            return


def _state(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}
