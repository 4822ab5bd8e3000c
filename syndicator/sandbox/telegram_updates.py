"""getUpdates for the Telegram stand-in: offsets, long polling and the 409 conflict (3.4).

Kept apart from the method handlers because it is the one stateful, waiting call.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from syndicator.sandbox.telegram_state import BotState, TelegramError, bad_request

UPDATES_LIMIT = 100
CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
# Telegram refuses polling while a webhook is set, 409 with this text (Bot API "getUpdates:
# will not work if an outgoing webhook is set up"; reo7sp/tgbot-cpp#158, telegraf/telegraf#475).
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)


class UpdatesMixin:
    """Adds `get_updates` to the server; needs `self._stopping` from SandboxServer."""

    _stopping: asyncio.Event

    async def get_updates(self, bot: BotState, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Confirm updates below `offset`, then return pending ones, waiting up to `timeout`.

        A newer getUpdates for the same bot ends a held older one with 409, the way Telegram
        ends the request of a second bot instance; it also frees PTB's cancelled long poll at
        shutdown without a spurious conflict on its final confirming call.
        """
        try:
            offset = int(params.get("offset") or 0)
            limit = int(params.get("limit") or UPDATES_LIMIT)
            timeout = float(params.get("timeout") or 0)
        except (TypeError, ValueError):
            raise bad_request("offset, limit and timeout must be integers") from None
        if bot.webhook_url:
            raise TelegramError(WEBHOOK_CONFLICT, 409)
        if not 1 <= limit <= UPDATES_LIMIT:
            limit = UPDATES_LIMIT  # the API clamps rather than failing
        if params.get("allowed_updates") is not None:
            bot.allowed_updates = list(params["allowed_updates"]) or None
        bot.poll_generation += 1
        generation = bot.poll_generation
        bot.wake()  # an older held poll notices it was superseded
        _confirm(bot, offset)
        deadline = time.monotonic() + timeout
        while True:
            if bot.poll_generation != generation:
                raise TelegramError(CONFLICT, 409)
            ready = _deliverable(bot)
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0 or self._stopping.is_set():
                return ready[:limit]
            waiters = [
                asyncio.ensure_future(bot.changed.wait()),
                asyncio.ensure_future(self._stopping.wait()),
            ]
            try:
                await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()


def _confirm(bot: BotState, offset: int) -> None:
    """Forget confirmed updates: below `offset`, or all but the last -offset ones."""
    if offset > 0:
        bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
    elif offset < 0:
        bot.updates = bot.updates[offset:]


def _deliverable(bot: BotState) -> list[dict[str, Any]]:
    """Pending updates the bot asked for; others are dropped, as Telegram never stores them."""
    if bot.allowed_updates:
        allowed = set(bot.allowed_updates)
        bot.updates = [u for u in bot.updates if allowed & (set(u) - {"update_id"})]
    return list(bot.updates)
