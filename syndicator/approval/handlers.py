"""Button taps and forced replies: parse, bind to the message, let Decisions decide, answer.

Callback data is described in buttons.py (short ASCII: action, DB id, the revision the preview
showed). Before anything is decided a tap is bound to what the person saw:
- the message it came from must be a stored preview of that same article (or, for a message
  the bot sent but never learned the id of, one whose own keyboard names only that article:
  see `_adopt`); `ap:7` tapped on article 8's message is refused and audited;
- its revision must match the posts' current payloads, else Decisions answers «Nội dung đã
  thay đổi…» and the preview is refreshed; old buttons without a revision: see buttons.py.
Every decision goes through Decisions.apply (decisions.py), the same core as the CLI.
"""

from __future__ import annotations

import html
import json
from datetime import datetime

import structlog
from telegram import CallbackQuery, Message, Update, User
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from syndicator.approval import buttons as B
from syndicator.approval import correct_buttons, takedown, watch_buttons
from syndicator.approval import texts as T
from syndicator.approval.bot import ApprovalBot
from syndicator.approval.decisions import Action, Actor, Request, Result, done_by
from syndicator.approval.preview import is_open
from syndicator.approval.when import preset_time
from syndicator.storage import aio
from syndicator.storage.approval import Prompt

log = structlog.get_logger("syndicator.approval.handlers")
ASKED = "prompt_asked:{id}"  # approval value: the revision a prompt was asked on, the asker


def actor_of(user: User) -> Actor:
    """The Decisions actor for a Telegram user: authorisation uses the numeric id only."""
    return Actor("telegram", str(user.id), user.full_name)


def actor(user: User) -> str:
    """The audit actor label (kept for the command handlers)."""
    return actor_of(user).label


def bot_of(context: ContextTypes.DEFAULT_TYPE) -> ApprovalBot:
    bot: ApprovalBot = context.application.bot_data["approval"]
    return bot


async def answer(query: CallbackQuery, text: str = "", alert: bool = False) -> None:
    """Answer a tap; an answer that comes too late is not worth an error."""
    try:
        await query.answer(text[:200] or None, show_alert=alert)
    except BadRequest as exc:
        log.info("callback_answer_failed", error=str(exc))


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button press on a preview."""
    query = update.callback_query
    if query is None:
        return
    bot = bot_of(context)
    chat_id = query.message.chat.id if query.message else None
    if chat_id not in (bot.chat_id, bot.admin_chat_id) or query.message is None:
        await answer(query)  # another chat: ignored, but the spinner must stop
        return
    button = B.parse(query.data)
    if button is None:
        await answer(query, T.ANS_UNKNOWN)
        return
    who, now = actor_of(query.from_user), bot.clock()
    if not await bot.decisions.may(Action.APPROVE, who):
        result = await bot.decisions.refuse_async(
            who, f"telegram:{chat_id}", now, T.ANS_REFUSED, callback=query.data, chat_id=chat_id
        )
        await answer(query, result.message, alert=True)
        return
    if button.action in watch_buttons.ACTIONS:  # a watch alert, bound to itself, not a preview
        await answer(query, await watch_buttons.on_tap(bot, query, button, who, now))
        return
    article_id = await aio.read(_article_of, bot, button)
    if article_id is None:
        await answer(query, T.ANS_UNKNOWN)
        return
    if not await aio.call(_bound, bot, query, article_id):  # may adopt the message: a write
        await bot.decisions.refuse_async(
            who, f"article:{article_id}", now, T.ANS_WRONG_MESSAGE, callback=query.data,
            chat_id=chat_id, message_id=query.message.message_id, reason="other_message",
        )  # fmt: skip
        await answer(query, T.ANS_WRONG_MESSAGE, alert=True)
        return
    if button.action == takedown.ACTION:  # on a published preview, so before the open check
        await answer(query, await takedown.ask(bot, query, article_id, who))
        return
    if button.action in correct_buttons.ACTIONS:  # correcting a published post: same reason
        await answer(query, await correct_buttons.on_tap(bot, query, button, article_id, who, now))
        return
    posts, previews = await aio.read(
        lambda: (bot.storage.list_posts(article_id=article_id), bot.storage.previews_of(article_id))
    )
    if not is_open(posts) or any(p.state == "closed" for p in previews):
        await answer(query, done_by(posts))
        bot.refresh(article_id)  # a stale message (e.g. missed edit) gets its stamp now
        return
    if button.revision is None and B.needs_revision(button):
        await answer(query, T.ANS_OLD_BUTTON, alert=True)
        bot.refresh(article_id, force=True)
        return
    text = await _act(bot, query, button, article_id, who, now)
    await answer(query, text)
    bot.refresh(article_id)


def _article_of(bot: ApprovalBot, button: B.Button) -> int | None:
    """The article a button acts on (blocking: a storage read)."""
    if button.action not in B.POST_ACTIONS:
        return button.number
    record = bot.storage.get_post(button.number)
    return record.article_id if record else None


def _bound(bot: ApprovalBot, query: CallbackQuery, article_id: int) -> bool:
    """Is the tapped message a preview of `article_id`? Unknown messages may be adopted
    (blocking, and it may write: run it with aio.call)."""
    message = query.message
    assert message is not None
    preview = bot.storage.find_preview(message.chat.id, message.message_id)
    if preview is not None:
        return preview.article_id == article_id
    return isinstance(message, Message) and _adopt(bot, message, article_id)


def _adopt(bot: ApprovalBot, message: Message, article_id: int) -> bool:
    """A preview whose sendMessage timed out after Telegram delivered it has buttons but no
    stored id. Only this bot can put its buttons on a message, so a message whose every button
    names this article (or its posts) is one of its previews: store it, and from now on every
    refresh and decision edits it too."""
    markup = message.reply_markup
    datas = [b.callback_data for row in (markup.inline_keyboard if markup else ()) for b in row]
    if not datas:
        return False
    post_ids = {p.id for p in bot.storage.list_posts(article_id=article_id)}
    for raw in datas:
        parsed = B.parse(raw if isinstance(raw, str) else None)
        if parsed is None:
            return False
        number_ok = (
            parsed.number in post_ids if parsed.action in B.POST_ACTIONS
            else parsed.number == article_id
        )  # fmt: skip
        if not number_ok:
            return False
    bot.storage.record_preview(
        article_id, message.chat.id, message.message_id, has_photo=bool(message.photo),
        now=bot.clock(),
    )  # fmt: skip
    log.warning("preview_adopted", article=article_id, message=message.message_id)
    return True


async def _act(
    bot: ApprovalBot, query: CallbackQuery, button: B.Button, article_id: int, who: Actor,
    now: datetime,
) -> str:  # fmt: skip
    """Do what the button says; return the answer to show the editor."""
    action, rev = button.action, button.revision
    menus = {"em": "edit", "sc": "schedule", "rj": "reject", "bk": "main"}
    if action in menus:
        bot.menus[article_id] = menus[action]
        return T.ANS_OK
    if action in ("ed", "rr") or (action == "sp" and button.extra == "ask"):
        return await _ask(bot, query, button, article_id, who, now)
    if action == "ap":
        request = Request(Action.APPROVE, article_id, revision=rev)
    elif action == "tg":
        record = await aio.read(bot.storage.get_post, button.number)
        assert record is not None
        skip = record.status != "skipped"
        request = Request(
            Action.SKIP if skip else Action.UNSKIP, article_id, channel=record.channel,
            revision=rev,
        )  # fmt: skip
    elif action == "sp":
        when = preset_time(button.extra or "", now)
        request = Request(Action.SCHEDULE, article_id, when=when, revision=rev)
    elif action == "rn":
        request = Request(Action.REJECT, article_id, revision=rev)
    else:
        return T.ANS_UNKNOWN
    result = await bot.decisions.submit(request, who, now)
    if result.status == "done" and action in ("sp", "rn"):
        bot.menus.pop(article_id, None)
    if result.status == "stale":
        bot.refresh(article_id, force=True)
    return result.message


async def _ask(
    bot: ApprovalBot, query: CallbackQuery, button: B.Button, article_id: int, who: Actor,
    now: datetime,
) -> str:  # fmt: skip
    """Send a forced-reply question to the person who tapped; the prompt (with the revision
    it was asked on) is stored once sent, so it survives restarts."""
    posts = await aio.read(bot.storage.list_posts, article_id=article_id)
    if button.revision != B.revision(posts):
        bot.refresh(article_id, force=True)
        return T.ANS_STALE
    user, chat_id = query.from_user, query.message.chat.id if query.message else bot.chat_id
    preview_id = query.message.message_id if query.message else None
    # ForceReply(selective=True) shows the reply box only to users @mentioned in the text (and
    # the sender of the replied-to message, here the bot): Bot API "ForceReply". So the prompt
    # mentions the person by id, and on_reply refuses anybody else's answer anyway.
    mention = f'<a href="tg://user?id={user.id}">{html.escape(user.full_name)}</a>'
    if button.action == "ed":
        record = next((p for p in posts if p.id == button.number), None)
        if record is None or record.status not in ("pending", "held"):
            return T.ANS_DONE
        kind = bot.kinds.get(record.channel, "")
        label, rule = T.KIND_NAMES.get(kind, record.channel), bot.rules.get(kind)
        if rule is None:
            return T.EDIT_NOT_SUPPORTED.format(label=label)
        field = rule.field(record.payload)
        text = T.PROMPT_EDIT.format(
            who=mention, label=html.escape(label), field=T.FIELD_NAMES.get(field, field),
            limit=rule.limit, article=article_id,
            current=html.escape(str(record.payload.get(field, ""))[:3000]),
        )  # fmt: skip
        action, post_id = "edit", record.id
    elif button.action == "rr":
        text = T.PROMPT_REJECT.format(who=mention, article=article_id)
        action, post_id = "reject", None
    else:
        text = T.PROMPT_SCHEDULE.format(who=mention, article=article_id)
        action, post_id = "schedule", None
    asked = json.dumps({"revision": button.revision, "name": user.full_name}, ensure_ascii=False)

    def store(message_id: int) -> None:
        prompt = bot.storage.add_prompt(
            chat_id, message_id, user_id=user.id, action=action, article_id=article_id,
            post_id=post_id, now=bot.clock(),
        )  # fmt: skip
        bot.storage.set_value(ASKED.format(id=prompt.id), asked, bot.clock())

    async def remember(message_id: int) -> None:
        await aio.call(store, message_id)

    bot.say(chat_id, text, reply_to=preview_id, html=True, force_reply=True, on_sent=remember)
    return T.ANS_REPLY_PROMPT


def _asked(bot: ApprovalBot, prompt: Prompt) -> dict[str, str | None]:
    """What was stored when the prompt was sent: the revision and the asker's name
    (blocking: a storage read)."""
    try:
        value = json.loads(bot.storage.get_value(ASKED.format(id=prompt.id)) or "{}")
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


async def on_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A reply to one of the bot's forced-reply prompts: new text, a time or a reason."""
    message = update.effective_message
    if message is None or message.reply_to_message is None or message.from_user is None:
        return
    bot = bot_of(context)
    reply_to = message.reply_to_message.message_id
    prompt = await aio.read(bot.storage.find_prompt, message.chat.id, reply_to)
    if prompt is None or prompt.state != "open":
        return
    who, now, text = actor_of(message.from_user), bot.clock(), (message.text or "").strip()
    subject = f"article:{prompt.article_id}"
    if not await bot.decisions.may(Action.APPROVE, who):
        await bot.decisions.refuse_async(who, subject, now, T.ANS_REFUSED, prompt=prompt.action)
        bot.say(message.chat.id, T.ANS_REFUSED, reply_to=message.message_id)
        return
    if message.from_user.id != prompt.user_id:
        # Only the person who asked may answer (issue 9 point 8): otherwise the edit would be
        # recorded under someone who never chose to make it.
        owner = await aio.read(_prompt_owner, bot, prompt)
        await bot.decisions.refuse_async(
            who, subject, now, T.NOT_YOUR_PROMPT, prompt=prompt.action,
            owner=prompt.user_id, reason="not_prompt_owner",
        )  # fmt: skip
        bot.say(message.chat.id, T.NOT_YOUR_PROMPT.format(who=owner), reply_to=message.message_id)
        return
    if not await aio.call(bot.storage.close_prompt, prompt.id, now):
        return  # a re-delivered update: the first one was handled
    if prompt.action == takedown.PROMPT_ACTION:
        reply = await takedown.confirm(bot, prompt, who, text, now)
        bot.say(message.chat.id, reply, reply_to=message.message_id)
        bot.refresh(prompt.article_id, force=True)
        return
    if prompt.action == correct_buttons.PROMPT_ACTION:
        outcome = await aio.call(correct_buttons.answer, bot, prompt, who, text, now)
        await aio.call(_settle_prompt, bot, prompt, outcome.status == "invalid", now)
        bot.say(message.chat.id, outcome.message, reply_to=message.message_id)
        bot.refresh(prompt.article_id, force=True)
        return
    result = await _answer_prompt(bot, prompt, who, text, now)
    await aio.call(_settle_prompt, bot, prompt, result.status == "invalid", now)
    if result.status != "invalid":
        bot.menus.pop(prompt.article_id, None)  # back to the main buttons, showing the new text
    bot.say(message.chat.id, result.message, reply_to=message.message_id)
    bot.refresh(prompt.article_id, force=result.status == "stale")


def _settle_prompt(bot: ApprovalBot, prompt: Prompt, invalid: bool, now: datetime) -> None:
    """An invalid answer reopens the prompt (the person may reply again); any other ends it
    (blocking: storage writes)."""
    if invalid:
        bot.storage.reopen_prompt(prompt.id, now)
    else:
        bot.storage.delete_values([ASKED.format(id=prompt.id)])


def _prompt_owner(bot: ApprovalBot, prompt: Prompt) -> str:
    return str(_asked(bot, prompt).get("name") or prompt.user_id)


async def _answer_prompt(
    bot: ApprovalBot, prompt: Prompt, who: Actor, text: str, now: datetime
) -> Result:
    """Turn the reply into a Decisions request and submit it."""
    from syndicator.approval.when import parse_when

    rev = (await aio.read(_asked, bot, prompt)).get("revision") or None
    if prompt.action == "edit":
        record = await aio.read(bot.storage.get_post, prompt.post_id or 0)
        channel = record.channel if record else None
        request = Request(Action.EDIT, prompt.article_id, channel=channel, text=text, revision=rev)
    elif prompt.action == "schedule":
        try:
            when = parse_when(text, now)
        except ValueError:
            return Result("invalid", T.TIME_INVALID.format(text=text[:50]), ())
        request = Request(Action.SCHEDULE, prompt.article_id, when=when, revision=rev)
    else:
        request = Request(Action.REJECT, prompt.article_id, text=text, revision=rev)
    return await bot.decisions.submit(request, who, now)
