"""/lich: what goes out today and tomorrow, and why anything waits ("khi nào bài này lên?").

The answer is `syndicator.publishing.queue.explain`, the same replay of the publisher's pacing
that `syndicator queue` prints, rendered here in Vietnamese for the editors. Approvers only,
like /pending. The storage reads run in a worker thread so the bot's loop never waits on them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import ContextTypes

from syndicator.approval import texts as T
from syndicator.publishing.pacing import LOCAL
from syndicator.publishing.queue import QueueEntry, Wait, explain, snapshot
from syndicator.storage import aio

if TYPE_CHECKING:
    from syndicator.approval.bot import ApprovalBot

MAX_LINES = 40  # a Telegram message holds 4096 characters; the rest is counted, not listed
TITLE_MAX = 70

HEAD = "🗓 Lịch đăng bài (giờ Việt Nam)"
TODAY = "Hôm nay {day}:"
TOMORROW = "Ngày mai {day}:"
NO_TIME = "Chưa có giờ đăng:"
LINE_TIMED = "• {time} · {channel} · #{article} {title} — {why}"
LINE_OPEN = "• {channel} · #{article} {title} — {why}"
NOTHING_TODAY = "  (không có bài nào)"
EMPTY = "Không có bài nào đang chờ đăng. 👍"
LATER = "Sau ngày mai: {count} bài."
MORE = "… và {more} bài nữa (xem đầy đủ bằng lệnh `syndicator queue`)."
WHY = {
    Wait.APPROVAL: "chờ duyệt từ {since}",
    Wait.SWITCHED_OFF: "kênh này đã được tắt cho bài",
    Wait.SCHEDULED: "hẹn đăng lúc {until}",
    Wait.BACKOFF: "gặp lỗi tạm thời, sẽ thử lại lúc {until}",
    Wait.THROTTLED: "nền tảng yêu cầu chờ đến {until}",
    Wait.BLOCKED: "nền tảng tạm chặn đăng bài đến {until}",
    Wait.QUIET_HOURS: "đang trong giờ không đăng bài, chờ đến {until}",
    Wait.DAILY_CAP: "kênh đã đăng đủ số bài tối đa trong ngày, chờ sang ngày mới",
    Wait.MIN_INTERVAL: "giãn cách giữa hai bài đăng, chờ đến {until}",
    Wait.PAUSED: "kênh đang tạm dừng (quản trị viên dùng /resume để đăng tiếp)",
    Wait.CREDENTIALS: "kênh cần cấp lại quyền truy cập (quản trị viên đang được báo)",
    Wait.RECONCILING: "chờ xác nhận kết quả của một bài đăng trước trên kênh này",
    Wait.PUBLISHING: "đang đăng",
    Wait.NO_CHANNEL: "kênh không còn trong cấu hình",
    Wait.NOTHING: "sẽ đăng ngay",
}
WHY_CHECKING = "đang kiểm tra trên kênh xem bài đã lên chưa"
EXPIRES = " (hết hạn lúc {when})"


def hhmm(value: datetime | None, now: datetime) -> str:
    """ "08:30" today, "08:30 15/11" on another day (local time)."""
    if value is None:
        return ""
    local, today = value.astimezone(LOCAL), now.astimezone(LOCAL).date()
    return f"{local:%H:%M}" if local.date() == today else f"{local:%H:%M %d/%m}"


def why(entry: QueueEntry, now: datetime) -> str:
    """Why one post waits, in a Vietnamese sentence fragment."""
    if entry.waiting_for == Wait.PUBLISHING and entry.until is not None:
        return WHY_CHECKING
    text = WHY[entry.waiting_for].format(since=hhmm(entry.since, now), until=hhmm(entry.until, now))
    if entry.waiting_for == Wait.APPROVAL and entry.expires_at is not None:
        text += EXPIRES.format(when=hhmm(entry.expires_at, now))
    return text


def schedule_text(entries: Sequence[QueueEntry], now: datetime, labels: Mapping[str, str]) -> str:
    """The /lich message: today's and tomorrow's posts by time, then those with no time yet."""
    if not entries:
        return EMPTY
    today = now.astimezone(LOCAL).date()
    days: dict[int, list[QueueEntry]] = {0: [], 1: []}
    untimed, later = [], 0
    for e in entries:
        if e.expected_at is None:
            untimed.append(e)
            continue
        offset = (e.expected_at.astimezone(LOCAL).date() - today).days
        if offset in days:
            days[offset].append(e)
        else:
            later += 1
    lines, shown = [HEAD], 0

    def line(e: QueueEntry, timed: bool) -> str:
        title = textwrap.shorten(e.title, TITLE_MAX, placeholder=" …") if e.title else ""
        fields: dict[str, Any] = dict(
            channel=labels.get(e.channel, e.channel), article=e.article_id, title=title,
            why=why(e, now), time=f"{e.expected_at.astimezone(LOCAL):%H:%M}"
            if e.expected_at else "",
        )  # fmt: skip
        return (LINE_TIMED if timed else LINE_OPEN).format(**fields)

    for offset, head in ((0, TODAY), (1, TOMORROW)):
        day = today + timedelta(days=offset)
        lines.append("")
        lines.append(head.format(day=f"{day:%d/%m}"))
        for e in days[offset][: MAX_LINES - shown]:
            lines.append(line(e, True))
            shown += 1
        if not days[offset]:
            lines.append(NOTHING_TODAY)
    if untimed:
        lines += ["", NO_TIME]
        for e in untimed[: max(0, MAX_LINES - shown)]:
            lines.append(line(e, False))
            shown += 1
    listed = len(days[0]) + len(days[1]) + len(untimed)
    if listed > shown:
        lines.append(MORE.format(more=listed - shown))
    if later:
        lines.append(LATER.format(count=later))
    return "\n".join(lines)


def gather(bot: ApprovalBot, now: datetime) -> list[QueueEntry]:
    """Read the queue (blocking: run it with aio.read)."""
    pacing = {name: ch.settings for name, ch in bot.channels.items()}
    snap = snapshot(bot.storage, pacing, now)
    return explain(now, snap.posts, snap.channels, snap.titles,
                   expire_after=bot.cfg.expire_after)  # fmt: skip


async def cmd_lich(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """What goes out today and tomorrow, and why anything waits."""
    bot: ApprovalBot = context.bot_data["approval"]
    message, user = update.effective_message, update.effective_user
    if message is None:
        return
    if user is None or not any(await bot.role_of(user.id)):
        if user is not None:  # refusals are on record, as for the other approver commands
            from syndicator.approval.handlers import actor

            await aio.call(
                bot.storage.record_event, "approval.refused", actor=actor(user),
                subject="telegram:command",
                data={"command": "/lich", "user_id": user.id}, now=bot.clock(),
            )  # fmt: skip
        bot.say(message.chat.id, T.NOT_APPROVER, reply_to=message.message_id)
        return
    now = bot.clock()
    entries = await aio.read(gather, bot, now)
    labels = {name: T.KIND_NAMES.get(kind, name) for name, kind in bot.kinds.items()}
    if len(set(labels.values())) < len(labels):  # two Pages: keep the names apart
        labels = {name: f"{label} ({name})" for name, label in labels.items()}
    bot.say(message.chat.id, schedule_text(entries, now, labels), reply_to=message.message_id)
