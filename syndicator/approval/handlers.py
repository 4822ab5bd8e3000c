"""Button taps and forced replies: authorise, decide atomically, answer, then refresh.

Callback data is short ASCII keyed by database ids (never article text), at most ~20 bytes:
  ap:<article>        approve every open post        tg:<post>        channel on/off
  em:<article>        edit menu (several channels)   ed:<post>        edit one post's text
  sc:<article>        schedule menu                  sp:<article>:<1h|3h|7am|ask>
  rj:<article>        reject menu                    rn:<article>     reject now
  rr:<article>        reject with a reason           bk:<article>     back to the main buttons
Every decision is storage.decide(), a compare-and-set on "still open" that appends its audit
row, so a double tap, a second editor or a re-delivered update cannot decide twice.
"""

from __future__ import annotations

import re
from datetime import datetime

import structlog
from telegram import CallbackQuery, Update, User
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from syndicator.approval import texts as T
from syndicator.approval.bot import ApprovalBot
from syndicator.approval.edits import EditError, apply_edit
from syndicator.approval.preview import OPEN, actor_name, is_open, local_time
from syndicator.approval.when import PRESETS, parse_when, preset_time
from syndicator.storage import PostRecord
from syndicator.types import PostStatus

S = PostStatus
log = structlog.get_logger("syndicator.approval.handlers")
DATA = re.compile(r"^(ap|tg|em|ed|sc|sp|rj|rn|rr|bk):(\d{1,18})(?::([a-z0-9]{1,8}))?$")


def actor(user: User) -> str:
    """The audit actor: the Telegram user id (what authorisation uses) and the display name."""
    return f"telegram:{user.id} ({user.full_name})"


def bot_of(context: ContextTypes.DEFAULT_TYPE) -> ApprovalBot:
    bot: ApprovalBot = context.application.bot_data["approval"]
    return bot


async def answer(query: CallbackQuery, text: str = "", alert: bool = False) -> None:
    """Answer a tap; an answer that comes too late is not worth an error."""
    try:
        await query.answer(text[:200] or None, show_alert=alert)
    except BadRequest as exc:
        log.info("callback_answer_failed", error=str(exc))


def done_by(posts: list[PostRecord]) -> str:
    """'Đã được xử lý bởi … lúc …' from the latest human decision on the article."""
    decided = [p for p in posts if p.decided_at and p.status not in (*OPEN, S.SKIPPED)]
    if not decided:
        return T.ANS_DONE
    last = max(decided, key=lambda p: p.decided_at or datetime.min)
    assert last.decided_at is not None
    return T.ANS_DONE_BY.format(who=actor_name(last.decided_by), when=local_time(last.decided_at))


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button press on a preview."""
    query = update.callback_query
    if query is None:
        return
    bot = bot_of(context)
    chat_id = query.message.chat.id if query.message else None
    if chat_id not in (bot.chat_id, bot.admin_chat_id):
        await answer(query)  # another chat: ignored, but the spinner must stop
        return
    match = DATA.match(query.data or "")
    if match is None:
        await answer(query, T.ANS_UNKNOWN)
        return
    user = query.from_user
    if user.id not in bot.approvers:
        await answer(query, T.ANS_REFUSED, alert=True)
        bot.storage.record_event(
            "approval.refused", actor=actor(user), subject=f"telegram:{chat_id}",
            data={"callback": query.data, "user_id": user.id, "chat_id": chat_id},
            now=bot.clock(),
        )  # fmt: skip
        return
    action, number, extra = match.group(1), int(match.group(2)), match.group(3)
    if action in ("tg", "ed"):
        record = bot.storage.get_post(number)
        if record is None:
            await answer(query, T.ANS_UNKNOWN)
            return
        article_id = record.article_id
    else:
        article_id = number
    posts = bot.storage.list_posts(article_id=article_id)
    if not is_open(posts) or any(p.state == "closed" for p in bot.storage.previews_of(article_id)):
        await answer(query, done_by(posts))
        bot.refresh(article_id)  # a stale message (e.g. missed edit) gets its stamp now
        return
    text = await _act(bot, query, action, number, extra, article_id, posts)
    await answer(query, text)
    bot.refresh(article_id)


async def _act(
    bot: ApprovalBot, query: CallbackQuery, action: str, number: int, extra: str | None,
    article_id: int, posts: list[PostRecord],
) -> str:  # fmt: skip
    """Do what the button says; return the answer to show the editor."""
    user, now = query.from_user, bot.clock()
    who, open_ids = actor(user), [p.id for p in posts if p.status in OPEN]
    data = {"telegram_user": user.id, "via": "telegram"}
    menus = {"em": "edit", "sc": "schedule", "rj": "reject", "bk": "main"}
    if action in menus:
        bot.menus[article_id] = menus[action]
        return T.ANS_OK
    if action == "ap":
        if not open_ids:
            return T.ANS_NOTHING_ON
        moved = bot.storage.decide(open_ids, S.APPROVED, actor=who, now=now, data=data)
        return T.ANS_APPROVED if moved else done_by(bot.storage.list_posts(article_id=article_id))
    if action == "tg":
        record = next(p for p in posts if p.id == number)
        label = T.KIND_NAMES.get(bot.kinds.get(record.channel, ""), record.channel)
        if record.status in OPEN:
            moved = bot.storage.decide([number], S.SKIPPED, actor=who, now=now, data=data)
            return T.ANS_CHANNEL_OFF.format(label=label) if moved else T.ANS_DONE
        back = (
            S.HELD
            if any(p.status == S.HELD for p in posts) or _held(bot, article_id)
            else S.PENDING
        )
        moved = bot.storage.decide(
            [number], back, actor=who, now=now, allowed_from=(S.SKIPPED,), data=data
        )
        return T.ANS_CHANNEL_ON.format(label=label) if moved else T.ANS_DONE
    if action == "sp" and extra in PRESETS:
        if not open_ids:
            return T.ANS_NOTHING_ON
        when = preset_time(extra, now)
        return _schedule(bot, open_ids, when, who, now, article_id)
    if action in ("ed", "rr") or (action == "sp" and extra == "ask"):
        return _ask(bot, query, action, number, article_id)
    if action == "rn":
        moved = bot.storage.decide(open_ids, S.REJECTED, actor=who, now=now, data=data)
        bot.menus.pop(article_id, None)
        return T.ANS_REJECTED if moved else done_by(bot.storage.list_posts(article_id=article_id))
    return T.ANS_UNKNOWN


def _held(bot: ApprovalBot, article_id: int) -> bool:
    article = bot.storage.get_article(article_id)
    return bool(article and article.held)


def _schedule(
    bot: ApprovalBot, post_ids: list[int], when: datetime, who: str, now: datetime, article_id: int
) -> str:
    moved = bot.storage.decide(
        post_ids, S.SCHEDULED, actor=who, now=now, scheduled_for=when,
        data={"via": "telegram"},
    )  # fmt: skip
    bot.menus.pop(article_id, None)
    if moved:
        return T.ANS_SCHEDULED.format(when=local_time(when))
    return done_by(bot.storage.list_posts(article_id=article_id))


def _ask(bot: ApprovalBot, query: CallbackQuery, action: str, number: int, article_id: int) -> str:
    """Send a forced-reply question; the prompt is stored once sent, so it survives restarts."""
    user, chat_id = query.from_user, query.message.chat.id if query.message else bot.chat_id
    preview_id = query.message.message_id if query.message else None
    name = user.full_name
    if action == "ed":
        record = bot.storage.get_post(number)
        rule = bot.rules.get(bot.kinds.get(record.channel, "")) if record else None
        if record is None or record.status not in OPEN:
            return T.ANS_DONE
        label = T.KIND_NAMES.get(bot.kinds.get(record.channel, ""), record.channel)
        if rule is None:
            return T.EDIT_NOT_SUPPORTED.format(label=label)
        field = rule.field(record.payload)
        current = str(record.payload.get(field, ""))[:3000]
        text = T.PROMPT_EDIT.format(
            who=name, label=label, field=T.FIELD_NAMES.get(field, field), limit=rule.limit,
            article=article_id, current=current,
        )  # fmt: skip
        kind, post_id = "edit", record.id
    elif action == "rr":
        text, kind, post_id = T.PROMPT_REJECT.format(who=name, article=article_id), "reject", None
    else:
        text, kind, post_id = (
            T.PROMPT_SCHEDULE.format(who=name, article=article_id),
            "schedule",
            None,
        )

    def remember(message_id: int) -> None:
        bot.storage.add_prompt(
            chat_id, message_id, user_id=user.id, action=kind, article_id=article_id,
            post_id=post_id, now=bot.clock(),
        )  # fmt: skip

    bot.say(chat_id, text, reply_to=preview_id, force_reply=True, on_sent=remember)
    return T.ANS_REPLY_PROMPT


async def on_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A reply to one of the bot's forced-reply prompts: new text, a time or a reason."""
    message = update.effective_message
    if message is None or message.reply_to_message is None or message.from_user is None:
        return
    bot = bot_of(context)
    prompt = bot.storage.find_prompt(message.chat.id, message.reply_to_message.message_id)
    if prompt is None or prompt.state != "open":
        return
    user, now, text = message.from_user, bot.clock(), (message.text or "").strip()
    if user.id not in bot.approvers:
        bot.storage.record_event(
            "approval.refused", actor=actor(user), subject=f"article:{prompt.article_id}",
            data={"prompt": prompt.action, "user_id": user.id}, now=now,
        )  # fmt: skip
        bot.say(message.chat.id, T.ANS_REFUSED, reply_to=message.message_id)
        return
    reply = _answer_prompt(bot, prompt, actor(user), text, now)
    if reply is not None:
        bot.say(message.chat.id, reply, reply_to=message.message_id)
    bot.refresh(prompt.article_id)


def _answer_prompt(bot: ApprovalBot, prompt, who: str, text: str, now: datetime) -> str | None:
    """Apply the reply; a message for the editor (None when a re-delivery was ignored)."""
    posts = bot.storage.list_posts(article_id=prompt.article_id)
    open_ids = [p.id for p in posts if p.status in OPEN]
    if prompt.action == "edit":
        record = next((p for p in posts if p.id == prompt.post_id), None)
        if record is None or record.status not in OPEN:
            bot.storage.close_prompt(prompt.id, now)
            return T.TOO_LATE.format(article=prompt.article_id, status=_status_of(record))
        label = T.KIND_NAMES.get(bot.kinds.get(record.channel, ""), record.channel)
        try:
            edited = apply_edit(record, bot.rules[bot.kinds.get(record.channel, "")], text)
        except EditError as exc:
            if exc.reason == "empty":
                return T.EDIT_EMPTY
            return T.EDIT_TOO_LONG.format(length=exc.length, limit=exc.limit, label=label)
        if not bot.storage.close_prompt(prompt.id, now):
            return None
        if bot.storage.edit_post(record.id, edited, actor=who, now=now) is None:
            return T.TOO_LATE.format(article=prompt.article_id, status="")
        return T.EDIT_SAVED.format(label=label, article=prompt.article_id)
    if prompt.action == "schedule":
        try:
            when = parse_when(text, now)
        except ValueError:
            return T.TIME_INVALID.format(text=text[:50])
        if when <= now:
            return T.TIME_PAST.format(when=local_time(when))
        if not bot.storage.close_prompt(prompt.id, now):
            return None
        return _schedule(bot, open_ids, when, who, now, prompt.article_id)
    if not bot.storage.close_prompt(prompt.id, now):  # reject with a reason
        return None
    moved = bot.storage.decide(
        open_ids, S.REJECTED, actor=who, now=now, reason=text[:1000] or None,
        data={"via": "telegram"},
    )  # fmt: skip
    bot.menus.pop(prompt.article_id, None)
    return (
        T.ANS_REJECTED if moved else done_by(bot.storage.list_posts(article_id=prompt.article_id))
    )


def _status_of(record: PostRecord | None) -> str:
    return T.STATUS[record.status].split("{")[0].strip() if record else ""
