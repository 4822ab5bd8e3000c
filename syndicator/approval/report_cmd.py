"""Reports in the bot: `/report [week|month|quarter]` for approvers and admins, the weekly
report to the staff chat (`[reports] weekly = "MON 08:00"`), and the audit head line that the
daily heartbeat carries to the admin chat.

The report is built in a worker thread (asyncio.to_thread): its queries must not hold the event
loop that also serves the approval buttons. Texts are Vietnamese; the charts go as photos.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

import structlog
from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes, filters

from syndicator.reports.build import ReportSpec, build_report
from syndicator.reports.period import KINDS, LOCAL, last_period
from syndicator.storage import aio

if TYPE_CHECKING:
    from syndicator.approval.bot import ApprovalBot
    from syndicator.config import Settings
    from syndicator.storage import Storage

log = structlog.get_logger("syndicator.approval.report")
KEY = "weekly_report_week"  # the ISO week whose report was last sent (survives restarts)
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
PERIOD_NAMES = {"week": "tuần", "month": "tháng", "quarter": "quý"}
USAGE = "Cách dùng: /report [week|month|quarter] (mặc định: tuần trước)."
NOT_ALLOWED = "Chỉ người duyệt và quản trị viên được xem báo cáo."
FAILED = "Không lập được báo cáo: {error}"


def install(bot: ApprovalBot, app: Application[Any, Any, Any, Any, Any, Any], chats: Any) -> None:
    """Register /report on the bot's chats (called once from ApprovalBot._build_application)."""
    app.add_handler(CommandHandler("report", cmd_report, filters=chats & filters.COMMAND))


def weekly_due(now: datetime, spec: str, last_week: str | None) -> bool:
    """Past `spec` ("MON 08:00", local time) in the current ISO week, and not yet sent for it."""
    day, at = spec.split()
    local = now.astimezone(LOCAL)
    iso = local.isocalendar()
    this_week = f"{iso.year}-W{iso.week:02d}"
    reached = (local.weekday(), local.time()) >= (DAYS.index(day), time.fromisoformat(at))
    return reached and last_week != this_week


def week_key(now: datetime) -> str:
    iso = now.astimezone(LOCAL).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def summary(report: dict[str, Any]) -> str:
    """The short Vietnamese summary sent with the charts."""
    totals = report["totals"]
    overall = report["timeliness"]["overall"]
    lines = [
        f"📊 Báo cáo {PERIOD_NAMES.get(report['period'], 'kỳ')} {report['label']}",
        f"Bài mới trên cổng: {totals['articles']}; đã đăng: {totals['published']} lượt; "
        f"từ chối: {totals['rejected']}; hết hạn: {totals['expired']}; đang giữ: {totals['held']}.",
    ]
    active = [a for a in report["agencies"] if a["articles"]][:5]
    if active:
        lines.append(
            "Nhiều bài nhất: " + ", ".join(f"{a['agency']} ({a['articles']})" for a in active)
        )
    silent = report["silent_agencies"]
    lines.append(
        f"Không có bài mới ({len(silent)}): " + (", ".join(silent[:10]) or "không có")
        + (" …" if len(silent) > 10 else "")
    )  # fmt: skip
    median = overall["decision_to_live"]["median_s"]
    waiting = overall["preview_to_decision"]["median_s"]
    if waiting is not None:
        lines.append(f"Thời gian chờ duyệt (trung vị): {_minutes(waiting)}.")
    if median is not None:
        lines.append(f"Từ lúc duyệt đến khi lên mạng (trung vị): {_minutes(median)}.")
    failures = sum(f["count"] for f in report["failures"] if f["event"] == "post.failed")
    if failures or report["incidents"]:
        lines.append(f"Lỗi đăng: {failures}; sự cố kênh: {len(report['incidents'])}.")
    if "ranking" in report:
        rk = report["ranking"]
        lines.append("Làm tốt: " + ", ".join(rk["best"]))
        lines.append("Cần cải thiện: " + ", ".join(rk["weakest"]))
        lines.append("Cách chấm: 50 điểm đăng đều các tuần + 50 điểm đủ các lĩnh vực bắt buộc.")
    head = report["audit_head"]
    lines.append(f"Đầu chuỗi nhật ký: {head['id']}:{head['hash']}")
    return "\n".join(lines)


def period_summary(storage: Storage, settings: Settings, kind: str, now: datetime) -> str:
    """The last complete period's summary alone, without the charts: what a surface that
    cannot upload a photo sends (the Zalo bot). Blocking: run it in a worker thread."""
    report = build_report(storage, last_period(kind, now), ReportSpec.from_settings(settings))
    return summary(report)


def head_line(storage: Storage) -> str:
    """The daily anchor line for the admin chat (the heartbeat appends it)."""
    head = storage.audit_head()
    if head is None:
        return "🔗 Nhật ký hoạt động: chưa có sự kiện."
    return f"🔗 Đầu chuỗi nhật ký: {head[0]}:{head[1]}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} phút" if seconds < 5400 else f"{seconds / 3600:.1f} giờ"


async def send_report(bot: ApprovalBot, chat_id: int, kind: str, now: datetime) -> None:
    """Build (in a thread), then queue the summary and the two charts for `chat_id`. Its own
    thread, not aio's: a year's report reads for seconds, and neither the writers nor the
    health snapshot should queue behind it."""
    spec = ReportSpec.from_settings(bot.settings)

    def make() -> tuple[dict[str, Any], bytes, bytes]:
        # Imported here: matplotlib costs the daemon ~46 MB of RSS (issue 11's RSS goal) and
        # is needed only when a report is drawn.
        from syndicator.reports import charts

        report = build_report(bot.storage, last_period(kind, now), spec)
        return report, charts.articles_chart(report), charts.timeliness_chart(report)

    report, articles_png, timing_png = await asyncio.to_thread(make)
    bot.say(chat_id, summary(report))
    for png, caption in ((articles_png, "Bài mới theo cơ quan và lĩnh vực"),
                         (timing_png, "Thời gian xử lý")):  # fmt: skip

        async def job(png: bytes = png, caption: str = caption) -> None:
            await bot.app.bot.send_photo(chat_id, photo=png, caption=caption)

        bot.queue.submit(chat_id, job)


async def run_weekly(bot: ApprovalBot, now: datetime) -> bool:
    """Send last week's report to the staff chat when due; True when it was queued."""
    spec = bot.settings.reports.weekly
    if not spec or not await aio.call(_mark_weekly, bot, spec, now):
        return False
    await send_report(bot, bot.chat_id, "week", now)
    return True


def _mark_weekly(bot: ApprovalBot, spec: str, now: datetime) -> bool:
    """Whether the weekly report is due; if so, mark this week sent first, so a failure is
    logged and not repeated (blocking: storage)."""
    if not weekly_due(now, spec, bot.storage.get_value(KEY)):
        return False
    bot.storage.set_value(KEY, week_key(now), now)
    return True


async def cmd_report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/report [week|month|quarter]: the last complete period's summary and charts."""
    bot: ApprovalBot = context.application.bot_data["approval"]
    message, user = update.effective_message, update.effective_user
    if message is None:
        return
    if user is None or not any(await bot.role_of(user.id)):
        bot.say(message.chat.id, NOT_ALLOWED, reply_to=message.message_id)
        return
    args = context.args or []
    kind = args[0].lower() if args else "week"
    if kind not in KINDS or len(args) > 1:
        bot.say(message.chat.id, USAGE, reply_to=message.message_id)
        return
    try:
        await send_report(bot, message.chat.id, kind, bot.clock())
    except Exception as exc:  # a broken database must not go unanswered in the chat
        log.exception("report_failed", period=kind)
        bot.say(message.chat.id, FAILED.format(error=type(exc).__name__),
                reply_to=message.message_id)  # fmt: skip
