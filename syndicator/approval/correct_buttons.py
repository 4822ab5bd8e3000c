"""✏️ Sửa bài đã đăng on a published preview: correct a live post from Telegram.

The flow (approvers; the core and the audit are in approval/corrections.py):
- ✏️ Sửa bài đã đăng (`cb`) shows one button per live post (`cc`), and ↩️ Quay lại (`cn`);
- the post's button sends a forced reply addressed to the person who tapped (the same
  ForceReply(selective) prompt as the edit of a waiting post, handlers._ask), stored as a
  prompt, so the reply is accepted from that person only and survives a restart;
- the reply is checked (length, emptiness; Facebook keeps the article link) and stored as the
  pending correction; the preview then shows the proposed text with ✅ Duyệt sửa (`ca`) and
  ↩️ Huỷ (`cx`), whose revision is of the proposed payload, so an approver approves exactly the
  text shown;
- ✅ Duyệt sửa (any approver) edits the live post through aftercare `correct()`.
Non-approvers never get here: handlers.on_callback and on_reply refuse them (audited).
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import TYPE_CHECKING

from telegram import CallbackQuery

from syndicator.approval import buttons as B
from syndicator.approval import corrections
from syndicator.approval import texts as T
from syndicator.approval.decisions import Actor
from syndicator.approval.preview import Correction
from syndicator.storage import PostRecord, Storage, aio
from syndicator.storage.approval import Prompt
from syndicator.types import PostStatus

if TYPE_CHECKING:
    from syndicator.approval.bot import ApprovalBot

ACTIONS = ("cb", "cn", "cc", "ca", "cx")
PROMPT_ACTION = "correct"
CURRENT_MAX = 3000  # characters of the live text quoted in the prompt


def shown(storage: Storage, posts: list[PostRecord]) -> tuple[Correction, ...]:
    """The pending corrections the preview of these posts shows (bot.gather; blocking)."""
    return tuple(
        Correction(
            record.id, record.channel, proposal.name, proposal.preview_text, proposal.revision
        )
        for record, proposal in corrections.pending(storage, posts)
    )


async def on_tap(
    bot: ApprovalBot, query: CallbackQuery, button: B.Button, article_id: int, who: Actor,
    now: datetime,
) -> str:  # fmt: skip
    """A correction button on a (bound) preview; returns the answer to show the person."""
    posts = await aio.read(bot.storage.list_posts, article_id=article_id)
    if button.action in ("ca", "cx"):
        if button.action == "ca":
            outcome = await corrections.approve(
                bot.storage, bot.channels, bot.kinds, button.number, who, now, button.revision
            )
        else:
            outcome = await aio.call(
                corrections.cancel, bot.storage, bot.kinds, button.number, who, now,
                button.revision,
            )  # fmt: skip
        if outcome.status == "done" and query.message is not None:
            # The whole group sees who corrected (or cancelled) what, not only the tapper.
            name = who.name or who.user_id
            bot.say(query.message.chat.id, f"{outcome.message} ({name})",
                    reply_to=query.message.message_id)  # fmt: skip
        bot.refresh(article_id, force=outcome.status != "done")
        return outcome.message
    if button.revision != B.revision(posts):
        bot.refresh(article_id, force=True)
        return T.ANS_STALE
    live = [p for p in posts if p.status == PostStatus.PUBLISHED]
    if not live:
        bot.menus.pop(article_id, None)
        bot.refresh(article_id, force=True)
        return T.CORRECT_NOTHING
    if button.action == "cb":
        bot.menus[article_id] = "correct"
        bot.refresh(article_id)
        return T.CORRECT_CHOOSE
    if button.action == "cn":
        bot.menus.pop(article_id, None)
        bot.refresh(article_id)
        return T.ANS_OK
    return _ask(bot, query, next((p for p in live if p.id == button.number), None), who)


def _ask(bot: ApprovalBot, query: CallbackQuery, record: PostRecord | None, who: Actor) -> str:
    """Ask the person who tapped for the new text of one live post."""
    if record is None:
        return T.CORRECT_NOTHING
    label = corrections.label_of(bot.kinds, record.channel)
    rule = bot.rules.get(bot.kinds.get(record.channel, ""))
    if rule is None:
        return T.EDIT_NOT_SUPPORTED.format(label=label)
    user = query.from_user
    chat_id = query.message.chat.id if query.message else bot.chat_id
    # ForceReply(selective=True) shows the reply box only to users @mentioned in the text and
    # to the sender of the replied-to message (Bot API "ForceReply"): so mention by id, and
    # handlers.on_reply refuses anybody else's answer anyway.
    mention = f'<a href="tg://user?id={user.id}">{html.escape(user.full_name)}</a>'
    field = rule.field(record.payload)
    text = T.PROMPT_CORRECT.format(
        who=mention, label=html.escape(label), field=T.FIELD_NAMES.get(field, field),
        limit=rule.limit, article=record.article_id,
        current=html.escape(str(record.payload.get(field, ""))[:CURRENT_MAX]),
    )  # fmt: skip

    def store(message_id: int) -> None:
        from syndicator.approval.handlers import ASKED  # it imports this module

        prompt = bot.storage.add_prompt(
            chat_id, message_id, user_id=user.id, action=PROMPT_ACTION,
            article_id=record.article_id, post_id=record.id, now=bot.clock(),
        )  # fmt: skip
        # The asker's name, so a reply from anybody else is refused naming who asked.
        asked = json.dumps({"name": user.full_name}, ensure_ascii=False)
        bot.storage.set_value(ASKED.format(id=prompt.id), asked, bot.clock())

    async def remember(message_id: int) -> None:
        await aio.call(store, message_id)  # a write: on the storage thread

    bot.say(
        chat_id, text, reply_to=query.message.message_id if query.message else None, html=True,
        force_reply=True, on_sent=remember,
    )  # fmt: skip
    bot.menus.pop(record.article_id, None)
    bot.refresh(record.article_id)
    return T.ANS_REPLY_PROMPT


def answer(bot: ApprovalBot, prompt: Prompt, who: Actor, text: str,
           now: datetime) -> corrections.Outcome:  # fmt: skip
    """The reply to the prompt: store it as the pending correction (shown on the preview);
    blocking: run it on the storage thread."""
    record = bot.storage.get_post(prompt.post_id or 0)
    if record is None:
        return corrections.Outcome("gone", T.CORRECT_NOTHING)
    return corrections.propose(bot.storage, bot.rules, bot.kinds, record, text, who, now)
