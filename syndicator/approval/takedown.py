"""🗑 Gỡ bài on a published preview: admins only, with a confirmation step.

The tap asks the admin (a forced reply addressed to them alone) for the reason; the reply is
the confirmation. Then every live post of the article is taken down through the same path as
`syndicator takedown` (publishing/aftercare.py): the intent and the reason are committed and
audited with the admin's name before any delete call, and a delete whose outcome is unknown is
finished by the publisher. The preview then shows what was removed.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import TYPE_CHECKING

from telegram import CallbackQuery

from syndicator.approval import texts as T
from syndicator.approval.decisions import Actor
from syndicator.publishing.aftercare import take_down
from syndicator.storage import aio
from syndicator.storage.approval import Prompt
from syndicator.types import PostStatus

if TYPE_CHECKING:
    from syndicator.approval.bot import ApprovalBot

ACTION = "gb"  # the button; the stored prompt's action is "takedown"
PROMPT_ACTION = "takedown"


async def ask(bot: ApprovalBot, query: CallbackQuery, article_id: int, who: Actor) -> str:
    """The tap: check the admin and that something is live, then ask for the reason."""
    if not await aio.read(bot.decisions.is_admin, who):
        await bot.decisions.refuse_async(who, f"article:{article_id}", bot.clock(), T.NOT_ADMIN,
                                         action="takedown")  # fmt: skip
        return T.NOT_ADMIN
    live = [p for p in await aio.read(bot.storage.list_posts, article_id=article_id)
            if p.status == PostStatus.PUBLISHED]  # fmt: skip
    if not live:
        return T.TAKEDOWN_NOTHING
    user = query.from_user
    chat_id = query.message.chat.id if query.message else bot.chat_id
    mention = f'<a href="tg://user?id={user.id}">{html.escape(user.full_name)}</a>'
    labels = ", ".join(T.KIND_NAMES.get(bot.kinds.get(p.channel, ""), p.channel) for p in live)
    text = T.PROMPT_TAKEDOWN.format(who=mention, article=article_id, channels=html.escape(labels))

    async def remember(message_id: int) -> None:
        await aio.call(
            bot.storage.add_prompt, chat_id, message_id, user_id=user.id, action=PROMPT_ACTION,
            article_id=article_id, post_id=None, now=bot.clock(),
        )  # fmt: skip

    bot.say(
        chat_id, text, reply_to=query.message.message_id if query.message else None, html=True,
        force_reply=True, on_sent=remember,
    )  # fmt: skip
    return T.ANS_REPLY_PROMPT


async def confirm(bot: ApprovalBot, prompt: Prompt, who: Actor, reason: str, now: datetime) -> str:
    """The reply: the reason confirms; every live post of the article is taken down."""
    if not await aio.read(bot.decisions.is_admin, who):
        await bot.decisions.refuse_async(who, f"article:{prompt.article_id}", now, T.NOT_ADMIN,
                                         action="takedown")  # fmt: skip
        return T.NOT_ADMIN
    if not reason.strip():
        return T.TAKEDOWN_NEED_REASON
    live = [p for p in await aio.read(bot.storage.list_posts, article_id=prompt.article_id)
            if p.status == PostStatus.PUBLISHED]  # fmt: skip
    if not live:
        return T.TAKEDOWN_NOTHING
    lines = []
    for record in live:
        done = await take_down(
            bot.storage, bot.channels, record, actor=who.label, reason=reason.strip()[:1000],
            now=now, via="telegram",
        )  # fmt: skip
        label = T.KIND_NAMES.get(bot.kinds.get(record.channel, ""), record.channel)
        lines.append((T.TAKEDOWN_OK if done.ok else T.TAKEDOWN_PENDING).format(label=label))
    return T.TAKEDOWN_HEAD.format(article=prompt.article_id) + "\n" + "\n".join(lines)
