"""Reports on the Zalo bot: `báo cáo [tuần|tháng|quý]`, the weekly report and the daily line.

The same texts as Telegram (approval/report_cmd.py `summary`, approval/heartbeat.py `figures`
with the audit head line), built by the same code, sent as text only. The charts stay on
Telegram and in the html report: the Zalo Bot Platform's `sendPhoto` takes a photo *URL* that
Zalo fetches (openclaw's Zalo extension, extensions/zalo/src/api.ts: "Zalo photo URL must be an
absolute HTTP or HTTPS URL", sent in the JSON body; no multipart upload in any public client or
the platform docs), and a provincial server usually has no public address to serve a PNG from.
Basic bots chat privately, so "the staff chat" is every linked approver's chat, and "the admin
chat" every linked admin's. Each schedule has its own stored marker (prefix "zalo_bot:"), so
Telegram and Zalo each send once per week / day, and a restart repeats nothing.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from typing import TYPE_CHECKING

import structlog

from syndicator.approval import heartbeat, report_cmd
from syndicator.approval.zalo_bot import texts as T
from syndicator.publishing.pacing import LOCAL
from syndicator.storage import aio

if TYPE_CHECKING:
    from syndicator.approval.zalo_bot.surface import ZaloBotSurface

log = structlog.get_logger("syndicator.approval.zalo_bot")
WEEKLY_KEY = "zalo_bot:" + report_cmd.KEY
DAILY_KEY = "zalo_bot:" + heartbeat.KEY


async def answer(surface: ZaloBotSurface, period: str) -> str:
    """`báo cáo …` from a linked approver or admin: the period's summary, or why not."""
    if period.startswith("?"):
        return T.REPORT_USAGE
    try:
        # Its own thread, as on Telegram: a year's report reads for seconds, and the
        # approval commands queued on the storage thread must not wait behind it.
        return await asyncio.to_thread(
            report_cmd.period_summary, surface.storage, surface.settings, period, surface.clock()
        )
    except Exception as exc:  # a broken database must not go unanswered
        log.exception("zalo_report_failed", period=period)
        return T.REPORT_FAILED.format(error=type(exc).__name__)


async def run(surface: ZaloBotSurface, now: datetime) -> None:
    """The weekly report to every linked chat, the daily figures to every linked admin."""
    await weekly(surface, now)
    await daily(surface, now)


async def weekly(surface: ZaloBotSurface, now: datetime) -> bool:
    """`[reports] weekly`: last week's summary to each linked chat; True when sent."""
    spec = surface.settings.reports.weekly
    if not spec:
        return False
    chats = await aio.call(_claim_weekly, surface, spec, now)
    if not chats:
        return False
    text = await answer(surface, "week")
    for chat_id in chats:
        await surface.say(chat_id, text)
    log.info("zalo_weekly_report_sent", chats=len(chats))
    return True


def _claim_weekly(surface: ZaloBotSurface, spec: str, now: datetime) -> list[str]:
    """The chats to send to when the weekly report is due, the week marked sent first, so a
    failure is logged and not repeated (blocking: storage). Nobody linked: not marked."""
    storage = surface.storage
    if not report_cmd.weekly_due(now, spec, storage.get_value(WEEKLY_KEY)):
        return []
    chats = sorted({i.chat_id for i in storage.linked_identities("zalo_bot")})
    if chats:
        storage.set_value(WEEKLY_KEY, report_cmd.week_key(now), now)
    return chats


async def daily(surface: ZaloBotSurface, now: datetime) -> bool:
    """`[approval] heartbeat`: the day's figures and the audit head to each linked admin."""
    if not surface.approval.heartbeat:
        return False
    due = await aio.call(_claim_daily, surface, time.fromisoformat(surface.approval.heartbeat),
                         now)  # fmt: skip
    if due is None:
        return False
    admins, text = due
    for chat_id in admins:
        await surface.say(chat_id, text)
    return True


def _claim_daily(surface: ZaloBotSurface, at: time, now: datetime) -> tuple[list[str], str] | None:
    """(admins, text) when today's line is due, marked sent first (blocking: storage)."""
    storage = surface.storage
    if not heartbeat.heartbeat_due(now, at, storage.get_value(DAILY_KEY)):
        return None
    admins = sorted({i.chat_id for i in storage.linked_identities("zalo_bot") if i.is_admin})
    if not admins:
        return None
    storage.set_value(DAILY_KEY, now.astimezone(LOCAL).date().isoformat(), now)
    return admins, heartbeat.figures(storage, now)
