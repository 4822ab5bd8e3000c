"""Reminders and admin alerts on Zalo: what the Telegram bot does for its group, done for the
linked Zalo approvers, so an office that runs `surfaces = ["zalo_bot"]` alone loses nothing.

Reminders: each Zalo preview whose article still waits gets exactly one reminder after
`remind_after` (`urgent_remind_after` for urgent articles), claimed in the database first, so a
restart does not repeat it. Expiry is not here: the daemon ticks approval/expiry.py whatever the
surface, and the surface's follow-up tells each chat.
Admin alerts: the Telegram alerts (approval/alerts.py) read the audit trail from a stored cursor;
the same class runs here with its own cursor and incident keys (prefix "zalo_bot:") and sends
each alert to every linked Zalo admin (`syndicator approvers add NAME --admin`). While no admin
is linked nothing is read, so the first admin to link starts at the end of the trail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from syndicator.approval.alerts import Alerts
from syndicator.approval.preview import clip, is_open
from syndicator.approval.reminders import age_text, is_urgent
from syndicator.approval.zalo_bot import texts as T
from syndicator.storage import aio

if TYPE_CHECKING:
    from syndicator.approval.zalo_bot.surface import ZaloBotSurface

log = structlog.get_logger("syndicator.approval.zalo_bot")
PREFIX = "zalo_bot:"
REMINDED = PREFIX + "reminded:{preview}"  # approval value: when the reminder was claimed


class _AdminDesk:
    """What approval/alerts.py needs of a bot, for the Zalo admins: `say` collects the alerts,
    `flush` sends them to every linked admin; Zalo messages cannot be edited, so `refresh`
    has nothing to do (the surface's follow-up sends notes instead)."""

    def __init__(self, surface: ZaloBotSurface) -> None:
        self.surface = surface
        self.storage, self.clock = surface.storage, surface.clock
        self.cfg, self.kinds = surface.approval, surface.kinds
        self.admin_chat_id = 0  # unused: every linked admin gets the alert
        self.outbox: list[tuple[str, Callable[[], Awaitable[None] | None] | None]] = []

    def say(self, chat_id: Any, text: str, *,
            on_done: Callable[[], Awaitable[None] | None] | None = None,
            **_: Any) -> None:  # fmt: skip
        self.outbox.append((text, on_done))

    def refresh(self, article_id: int, **_: Any) -> None:
        return None

    async def flush(self, admins: list[str]) -> None:
        outbox, self.outbox = self.outbox, []
        for text, on_done in outbox:
            try:
                for chat_id in admins:
                    await self.surface.say(chat_id, T.ALERT.format(text=text))
            finally:
                if on_done is not None:
                    pending = on_done()  # advances the stored cursor past this alert
                    if pending is not None:
                        await pending


class ZaloDuties:
    def __init__(self, surface: ZaloBotSurface) -> None:
        self.surface = surface
        self.desk = _AdminDesk(surface)
        self.alerts = Alerts(self.desk, prefix=PREFIX)  # type: ignore[arg-type]

    async def run(self, now: datetime) -> None:
        await self.remind(now)
        await self.alert(now)

    async def remind(self, now: datetime) -> int:
        """One reminder per fully sent preview of a waiting article, once it is due."""
        due = await aio.call(self._due_reminders, now)
        for chat_id, text in due:
            await self.surface.say(chat_id, text)
        return len(due)

    def _due_reminders(self, now: datetime) -> list[tuple[str, str]]:
        """(chat, text) of each reminder due, each claimed first (blocking: storage)."""
        storage, cfg = self.surface.storage, self.surface.approval
        due = []
        for preview in storage.zalo_previews(states=("open",)):
            if preview.parts_sent == 0 or preview.note is not None:
                continue
            key = REMINDED.format(preview=preview.id)
            posts = storage.list_posts(article_id=preview.article_id)
            article = storage.get_article(preview.article_id)
            if article is None or not is_open(posts) or storage.get_value(key) is not None:
                continue
            urgent = is_urgent(article, cfg)
            age = now - min(p.created_at for p in posts)
            if age < (cfg.urgent_remind_after if urgent else cfg.remind_after):
                continue
            storage.set_value(key, now.isoformat(), now)  # claimed first: one reminder ever
            template = T.REMINDER_URGENT if urgent else T.REMINDER
            due.append((preview.chat_id, template.format(
                n=article.id, age=age_text(age), title=clip(article.title, 200))))  # fmt: skip
            log.info("zalo_reminded", article=article.id, chat=preview.chat_id, urgent=urgent)
        return due

    async def alert(self, now: datetime) -> None:
        """The Telegram admin alerts, to the linked Zalo admins."""
        linked = await aio.read(self.surface.storage.linked_identities, PREFIX[:-1])
        admins = [i.chat_id for i in linked if i.is_admin]
        if not admins:
            return
        await self.alerts.run(now)
        await self.desk.flush(admins)
