"""Slash commands in the staff and admin chats. Authorisation uses the Telegram user id only.

/whoami and /help: anyone in those chats; /pending and /status: approvers; /pause, /resume
and /retry: admins. Commands from other chats never reach here (a chat filter on the handlers).
"""

from __future__ import annotations

from datetime import UTC, datetime

from telegram import Update
from telegram.ext import ContextTypes

from syndicator.approval import plain
from syndicator.approval import texts as T
from syndicator.approval.bot import ApprovalBot
from syndicator.approval.decisions import Action, Request
from syndicator.approval.handlers import actor, actor_of, bot_of
from syndicator.approval.preview import OPEN, clip, local_time
from syndicator.approval.reminders import age_text, is_urgent
from syndicator.storage import aio
from syndicator.storage.channels import ACTIVE, NEEDS_CREDENTIALS, PAUSED
from syndicator.types import PostStatus

S = PostStatus
PENDING_MAX = 30


async def _reply(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    message = update.effective_message
    if message is not None:
        bot_of(context).say(message.chat.id, text, reply_to=message.message_id)


async def _allowed(update: Update, context: ContextTypes.DEFAULT_TYPE, who: str) -> bool:
    user = update.effective_user
    if user is None:
        return False
    approves, administers = await bot_of(context).role_of(user.id)
    return administers if who == "admin" else approves


async def _refuse(update: Update, context: ContextTypes.DEFAULT_TYPE, who: str) -> None:
    bot, user = bot_of(context), update.effective_user
    text = update.effective_message.text if update.effective_message else ""
    if user is not None:
        await aio.call(
            bot.storage.record_event, "approval.refused", actor=actor(user),
            subject="telegram:command",
            data={"command": (text or "")[:100], "user_id": user.id}, now=bot.clock(),
        )  # fmt: skip
    await _reply(update, context, T.NOT_ADMIN if who == "admin" else T.NOT_APPROVER)


async def cmd_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """How to use the bot, with the command list."""
    lines = "\n".join(f"/{name} — {text}" for name, text in T.COMMANDS)
    await _reply(update, context, T.HELP.format(commands=lines))


async def cmd_whoami(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The caller's id, so an admin can add them to approvers."""
    user, bot = update.effective_user, bot_of(context)
    if user is None:
        return
    approves, administers = await bot.role_of(user.id)
    role = T.ROLE_ADMIN if administers else T.ROLE_APPROVER if approves else T.ROLE_NONE
    await _reply(update, context, T.WHOAMI.format(id=user.id, name=user.full_name, role=role))


async def cmd_pending(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """What waits for a decision, oldest first."""
    if not await _allowed(update, context, "approver"):
        await _refuse(update, context, "approver")
        return
    bot = bot_of(context)
    await _reply(update, context, await aio.read(pending_text, bot, bot.clock()))


def pending_text(bot: ApprovalBot, now: datetime) -> str:
    """The /pending answer (blocking: storage reads)."""
    waiting: dict[int, datetime] = {}
    for post in bot.storage.list_posts(status=list(OPEN)):
        waiting[post.article_id] = min(
            waiting.get(post.article_id, post.created_at), post.created_at
        )
    if not waiting:
        return T.PENDING_NONE
    lines = [T.PENDING_HEAD.format(count=len(waiting))]
    for article_id, since in sorted(waiting.items(), key=lambda item: item[1])[:PENDING_MAX]:
        article = bot.storage.get_article(article_id)
        if article is None:
            continue
        lines.append(
            T.PENDING_LINE.format(
                urgent="🔴 " if is_urgent(article, bot.cfg) else "", article=article_id,
                age=age_text(now - since), agency=article.agency, title=clip(article.title, 120),
            )
        )  # fmt: skip
    if len(waiting) > PENDING_MAX:
        lines.append(T.PENDING_MORE.format(more=len(waiting) - PENDING_MAX))
    return "\n".join(lines)


async def cmd_status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sources health, channels health, queue sizes, last poll."""
    if not await _allowed(update, context, "approver"):
        await _refuse(update, context, "approver")
        return
    await _reply(update, context, await aio.read(status_text, bot_of(context)))


def status_text(bot: ApprovalBot) -> str:
    """The /status report in full sentences (blocking: storage reads)."""
    storage = bot.storage
    sources = storage.source_states()
    counts: dict[str, int] = {}
    for state in sources.values():
        counts[state.status] = counts.get(state.status, 0) + 1
    polls = [s.last_checked_at for s in sources.values() if s.last_checked_at]
    parts = [
        T.STATUS_SOURCE_PART[k].format(n=counts[k]) for k in T.STATUS_SOURCE_PART if counts.get(k)
    ]
    parts += [f"{v} nguồn «{k}»" for k, v in counts.items() if k not in T.STATUS_SOURCE_PART]
    bad = "".join(
        T.STATUS_SOURCE_BAD.format(
            source=s.id, status=T.SOURCE_STATES.get(s.status, s.status), errors=s.error_count,
            error=plain.source_error(s.last_error),
        )
        for s in sources.values()
        if s.status in ("failing", "unhealthy")
    )  # fmt: skip
    channel_lines = []
    for name in bot.channels:
        chan = storage.channel_status(name)
        icon = "🟢" if chan.status == ACTIVE else "⏸" if chan.status == PAUSED else "🔑"
        reason = f": {clip(chan.reason, 200)}" if chan.reason and chan.status != ACTIVE else ""
        channel_lines.append(
            T.STATUS_CHANNEL.format(
                icon=icon, channel=name, label=_kind_label(bot, name),
                status=T.CHANNEL_STATES.get(chan.status, chan.status), reason=reason.rstrip("."),
            )
        )  # fmt: skip
    totals: dict[str, int] = {}
    for (_channel, status), n in storage.post_counts().items():
        totals[status] = totals.get(status, 0) + n
    queue = [
        text.format(n=totals[s.value]) for s, text in T.STATUS_QUEUE_PART.items()
        if totals.get(s.value)
    ]  # fmt: skip
    return T.STATUS_TEXT.format(
        last_poll=T.STATUS_LAST_POLL.format(when=local_time(max(polls)))
        if polls else T.STATUS_NO_POLL,
        sources=T.STATUS_SOURCES.format(total=len(sources), parts=", ".join(parts))
        if sources else T.STATUS_NO_SOURCES,
        bad_sources=bad, channels="\n".join(channel_lines) or T.STATUS_NO_CHANNELS,
        queues=T.STATUS_QUEUE.format(parts=", ".join(queue)) if queue else T.STATUS_QUEUE_EMPTY,
    )  # fmt: skip


def _kind_label(bot: ApprovalBot, name: str) -> str:
    label = T.KIND_NAMES.get(bot.kinds.get(name, ""), "")
    return f"{label} " if label else ""


async def _set_channels(
    update: Update, context: ContextTypes.DEFAULT_TYPE, to: str, from_: tuple[str, ...]
) -> None:
    if not await _allowed(update, context, "admin"):
        await _refuse(update, context, "admin")
        return
    bot, user = bot_of(context), update.effective_user
    assert user is not None
    names = list(context.args or []) or list(bot.channels)
    unknown = [n for n in names if n not in bot.channels]
    if unknown:
        await _reply(
            update, context,
            T.UNKNOWN_CHANNEL.format(channel=unknown[0], channels=", ".join(bot.channels)),
        )  # fmt: skip
        return
    reason = T.PAUSE_REASON.format(who=user.full_name) if to == PAUSED else None
    changed = []
    for name in names:
        if await aio.call(
            bot.storage.set_channel_status, name, to, reason=reason, actor=actor(user),
            now=bot.clock(), only_from=from_,
        ):  # fmt: skip
            changed.append(name)
    template = T.PAUSED if to == PAUSED else T.RESUMED
    text = (
        template.format(channels=", ".join(changed))
        if changed
        else T.UNCHANGED.format(channels=", ".join(names))
    )
    await _reply(update, context, text)


async def cmd_pause(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Pause one channel (or all): the publisher stops taking its posts."""
    await _set_channels(update, context, PAUSED, (ACTIVE,))


async def cmd_resume(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Resume one channel (or all), also after new credentials were set."""
    await _set_channels(update, context, ACTIVE, (PAUSED, NEEDS_CREDENTIALS))


async def cmd_retry(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send a failed (or needs-human) post again: back to approved, audited."""
    if not await _allowed(update, context, "admin"):
        await _refuse(update, context, "admin")
        return
    bot, user = bot_of(context), update.effective_user
    assert user is not None
    args = context.args or []
    if len(args) != 1 or not args[0].isdigit():
        await _reply(update, context, T.RETRY_USAGE)
        return
    post_id = int(args[0])
    record = await aio.read(bot.storage.get_post, post_id)
    if record is None:
        await _reply(update, context, T.RETRY_NOT_FOUND.format(post=post_id))
        return
    request = Request(Action.RETRY, record.article_id, channel=record.channel)
    result = await bot.decisions.submit(request, actor_of(user), bot.clock())
    if result.status == "nothing":
        status = T.STATUS[record.status].split("{")[0].strip()
        await _reply(update, context, T.RETRY_NOT_FAILED.format(post=post_id, status=status))
        return
    await _reply(update, context, result.message)


__all__ = ["UTC", "cmd_help", "cmd_pause", "cmd_pending", "cmd_resume", "cmd_retry",
           "cmd_status", "cmd_whoami"]  # fmt: skip
