"""The daily heartbeat: one "still alive" message to the admin chat, with the day's figures.

Off unless `[approval] heartbeat = "HH:MM"` is set. The day it was last sent is stored, so a
restart neither skips nor repeats it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from syndicator.approval import report_cmd, texts
from syndicator.publishing.pacing import LOCAL
from syndicator.storage import aio
from syndicator.types import PostStatus

if TYPE_CHECKING:
    from syndicator.approval.bot import ApprovalBot
    from syndicator.storage import Storage

KEY = "heartbeat_day"


def heartbeat_due(now: datetime, at: time, last_day: str | None) -> bool:
    """Past `at` local time and not yet sent today."""
    local = now.astimezone(LOCAL)
    return local.time() >= at and last_day != local.date().isoformat()


def summary(bot: ApprovalBot, now: datetime) -> str:
    return figures(bot.storage, now)


def figures(storage: Storage, now: datetime) -> str:
    """The day's figures and the audit head line; every surface sends this same text
    (the Zalo bot to its linked admins). Blocking: storage reads."""
    since = now - timedelta(days=1)
    states = storage.source_states()
    unhealthy = sorted(sid for sid, st in states.items() if st.status == "unhealthy")
    published = [
        p
        for p in storage.list_posts(status=[PostStatus.PUBLISHED])
        if p.published_at and p.published_at >= since
    ]
    waiting = storage.list_posts(status=[PostStatus.PENDING, PostStatus.HELD])
    failed = [
        p
        for p in storage.list_posts(status=[PostStatus.FAILED, PostStatus.NEEDS_HUMAN])
        if p.updated_at >= since
    ]
    channels = storage.channel_statuses()
    broken = sorted(name for name, st in channels.items() if st.status != "active")
    lines = [
        texts.HEARTBEAT_TITLE.format(day=now.astimezone(LOCAL).strftime("%d/%m/%Y")),
        texts.HEARTBEAT_SOURCES.format(total=len(states), bad=len(unhealthy)),
        texts.HEARTBEAT_PUBLISHED.format(count=len(published)),
        texts.HEARTBEAT_WAITING.format(count=len({p.article_id for p in waiting})),
        texts.HEARTBEAT_FAILED.format(count=len(failed)),
    ]
    if unhealthy:
        lines.append(texts.HEARTBEAT_UNHEALTHY.format(names=", ".join(unhealthy)))
    if broken:
        lines.append(texts.HEARTBEAT_CHANNELS.format(names=", ".join(broken)))
    lines.append(report_cmd.head_line(storage))  # the daily anchor of the audit trail
    return "\n".join(lines)


async def run(bot: ApprovalBot, now: datetime) -> bool:
    """Send today's heartbeat when due; True when one was queued."""
    if not bot.cfg.heartbeat:
        return False
    at = time.fromisoformat(bot.cfg.heartbeat)
    text = await aio.call(_due_summary, bot, at, now)
    if text is None:
        return False
    bot.say(bot.admin_chat_id, text)
    return True


def _due_summary(bot: ApprovalBot, at: time, now: datetime) -> str | None:
    """Today's summary if the heartbeat is due, marked sent first (blocking: storage)."""
    if not heartbeat_due(now, at, bot.storage.get_value(KEY)):
        return None
    bot.storage.set_value(KEY, now.astimezone(LOCAL).date().isoformat(), now)
    return summary(bot, now)
