"""The approval workspace in Telegram, on python-telegram-bot 22.

Public API:
    build_bot(settings, storage, channels, *, clock) -> ApprovalBot
    ApprovalBot.start() / stop()           run inside the daemon's loop (no run_polling)
    ApprovalBot.tick(now)                  previews, reminders, expiry, alerts (call every few s)
    ApprovalBot.on_post_event(what, rec)   the Publisher listener (live links / failures)

Design, in one place:
- State lives in the database (storage/approval.py + the posts table): preview message ids,
  forced-reply prompts, the alert cursor. Buttons carry only ASCII + DB ids (handlers.py), so
  any bot instance on the same database handles any old message.
- Decisions go through decisions.Decisions (the same core as the CLI and the Zalo bot):
  a compare-and-set bound to the payload hashes the person saw, with an audit row; the
  publisher starts only from that state change, so a re-delivered tap cannot publish twice.
- Buttons (buttons.py) carry the revision their preview showed and are checked against the
  message they are on.
- Preview (preview.py): one message per article; photo+caption only when all fits, else text
  with the image as link preview. Edits (edits.py): one field per channel, re-validated.
- Sends go through a per-chat queue (sendqueue.py): ~1 message per send_interval, at most
  group_limit per group_window to a group, 429 waited. A send without an answer is re-sent
  at most once and its lost copy found (unconfirmed.py).
- Alerts (alerts.py) come from the audit trail since a stored cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from syndicator.approval.bot import ApprovalBot, utcnow
from syndicator.config import Settings
from syndicator.storage import Storage

if TYPE_CHECKING:
    from channels.base import Channel

__all__ = ["ApprovalBot", "build_bot"]


def build_bot(
    settings: Settings,
    storage: Storage,
    channels: Mapping[str, Channel],
    *,
    clock: Callable[[], datetime] = utcnow,
) -> ApprovalBot:
    """The approval bot for `[approval] mode = "telegram"` (not started)."""
    return ApprovalBot(settings, storage, channels, clock=clock)
