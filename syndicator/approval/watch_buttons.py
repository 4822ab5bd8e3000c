"""The staff side of watching published articles: the alert, and its three buttons.

The watcher (publishing/watch_runner.py) decides that a live article changed materially or was
withdrawn; this module shows it in the staff chat with the difference and:
- 🔄 Cập nhật bài đăng (`wu`): re-render every live post from the current article and show
  the new texts in place of the alert with ✅ Duyệt cập nhật (`wa`). The re-rendered posts are a
  decision like any other: an approver approves exactly the texts shown (the button carries
  their revision; a newer change of the article refuses it as stale). Then each live post is
  corrected through publishing/aftercare.py `correct()` (Graph post edit, Zalo article/update).
- 🗑 Gỡ bài (`wr`): the take-down flow of approval/takedown.py (admins; the reason confirms).
- 🙈 Bỏ qua (`wx`): dismiss; the current text becomes the baseline, so only a later change
  alerts again.
A tap is bound to the alert it came from (its stored chat and message id) and to the article
version the alert showed (the revision). Every step is audited (`watch.*`). The steps
themselves are approval/watch_core.py, which the Zalo bot's typed commands use too; this
module is the Telegram surface of them (buttons, message edits).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from telegram import CallbackQuery
from telegram.error import BadRequest

from syndicator.approval import buttons as B
from syndicator.approval import takedown
from syndicator.approval import texts as T
from syndicator.approval import watch_core as W
from syndicator.approval.decisions import Actor
from syndicator.approval.preview import Keyboard, local_time
from syndicator.publishing.watch_runner import load, save
from syndicator.storage import aio
from syndicator.types import Article

if TYPE_CHECKING:
    from syndicator.approval.bot import ApprovalBot

log = structlog.get_logger("syndicator.approval.watch")
ACTIONS = ("wu", "wa", "wr", "wx")
NEW_TEXT_MAX = 1200  # characters of each re-rendered post shown for approval


def alert_text(bot: ApprovalBot, article: Article, state: dict[str, Any]) -> str:
    """The alert: what happened, the difference, where the article is live."""
    return W.alert_text(bot.storage, bot.kinds, article, state)


def alert_keyboard(article: Article, state: dict[str, Any]) -> Keyboard:
    assert article.id is not None
    rev = W.article_revision(article)
    rows: list[tuple[tuple[str, str], ...]] = [((T.BTN_WATCH_TAKEDOWN, B.data("wr", article.id, rev)),
             (T.BTN_WATCH_DISMISS, B.data("wx", article.id, rev)))]  # fmt: skip
    if state.get("kind") == "changed":  # a withdrawn article has nothing to update from
        rows.insert(0, ((T.BTN_WATCH_UPDATE, B.data("wu", article.id, rev)),))
    return tuple(rows)


def notify(bot: ApprovalBot, article_id: int) -> None:
    """The watcher's hook: queue the alert for the staff chat; its id is stored once sent.
    Blocking (storage reads); called on the storage thread by the watcher's turn."""
    article, state = bot.storage.get_article(article_id), load(bot.storage, article_id)
    if article is None or state is None or state.get("status") != "alerted":
        return
    text, keyboard = alert_text(bot, article, state), alert_keyboard(article, state)

    async def job() -> None:
        from syndicator.approval.bot import markup

        message = await bot.app.bot.send_message(
            bot.chat_id, text[:4096], reply_markup=markup(keyboard),
            link_preview_options=None,
        )  # fmt: skip

        def remember() -> None:
            fresh = load(bot.storage, article_id) or state
            fresh["message"] = [bot.chat_id, message.message_id]
            save(bot.storage, article_id, fresh, bot.clock())

        await aio.call(remember)

    bot.submit(bot.chat_id, job, key=f"watch:{article_id}")


def _edit(bot: ApprovalBot, where: tuple[int, int], text: str,
          keyboard: Keyboard) -> None:  # fmt: skip
    from syndicator.approval.bot import markup

    chat_id, message_id = where

    async def job() -> None:
        try:
            await bot.app.bot.edit_message_text(
                text[:4096], chat_id, message_id, reply_markup=markup(keyboard)
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    bot.submit(chat_id, job, key=f"watch-edit:{chat_id}:{message_id}", idempotent=True)


async def on_tap(
    bot: ApprovalBot, query: CallbackQuery, button: B.Button, who: Actor, now: datetime
) -> str:
    """A tap on a watch alert; returns the answer to show the person. The storage work of
    each button runs on the storage thread (aio.call); the sends are queued from there."""
    article_id = button.number
    state, article = await aio.read(
        lambda: (load(bot.storage, article_id), bot.storage.get_article(article_id))
    )
    message = query.message
    assert message is not None
    where = (message.chat.id, message.message_id)
    if (state is None or article is None or state.get("status") == "watching"
            or state.get("message") != list(where)):  # fmt: skip
        return T.WATCH_GONE
    if button.action != "wa" and button.revision != W.article_revision(article):
        # The article changed again since this alert: show the newest difference instead.
        text = await aio.read(alert_text, bot, article, state)
        _edit(bot, where, text, alert_keyboard(article, state))
        return T.WATCH_STALE
    subject = f"article:{article_id}"
    if button.action == "wx":
        return await aio.call(_dismiss, bot, article, state, who, where, now)
    if button.action == "wr":
        answer = await takedown.ask(bot, query, article_id, who)
        if answer == T.ANS_REPLY_PROMPT:
            await aio.call(
                bot.storage.record_event, "watch.takedown_asked", actor=who.label,
                subject=subject, data={"kind": state.get("kind")}, now=now,
            )  # fmt: skip
        return answer
    if button.action == "wu":
        return await aio.call(_show_update, bot, article, state, who, where, now)
    return await _approve_update(bot, article, state, button, who, where, now)


def _dismiss(bot: ApprovalBot, article: Article, state: dict[str, Any], who: Actor,
             where: tuple[int, int], now: datetime) -> str:  # fmt: skip
    """✖ Bỏ qua: the alert is stamped and the article watched from what it is now
    (blocking: storage writes; the edit is queued on the loop)."""
    W.dismiss(bot.storage, article, state, who, now)
    stamp = T.WATCH_DISMISSED.format(who=who.name or who.user_id, when=local_time(now))
    _edit(bot, where, alert_text(bot, article, state) + "\n\n" + stamp, ())
    return T.WATCH_ANS_DISMISSED


def _show_update(bot: ApprovalBot, article: Article, state: dict[str, Any], who: Actor,
                 where: tuple[int, int], now: datetime) -> str:  # fmt: skip
    """🔄 Cập nhật: the re-rendered posts replace the alert's buttons, waiting for approval
    (blocking: storage reads and writes; the edit is queued on the loop)."""
    assert article.id is not None
    done = W.render_update(bot.storage, bot.channels, article, state, who, now)
    if done.status != "rendered":
        return T.WATCH_NOTHING_LIVE if done.status == "nothing_live" else T.WATCH_SAME
    lines = [T.WATCH_CONFIRM_HEAD.format(article=article.id, who=who.name or who.user_id)]
    for record, post in done.pairs:
        lines.append(T.WATCH_NEW_TEXT.format(label=W.label(bot.kinds, record.channel),
                                             text=post.preview_text[:NEW_TEXT_MAX]))  # fmt: skip
    keyboard = (
        (
            (T.BTN_WATCH_APPROVE, B.data("wa", article.id, done.revision)),
            (T.BTN_WATCH_DISMISS, B.data("wx", article.id, W.article_revision(article))),
        ),
    )
    _edit(bot, where, "\n\n".join(lines), keyboard)
    return T.WATCH_ANS_RENDERED


async def _approve_update(
    bot: ApprovalBot, article: Article, state: dict[str, Any], button: B.Button, who: Actor,
    where: tuple[int, int], now: datetime,
) -> str:  # fmt: skip
    """✅ Duyệt cập nhật: only the texts shown (same revision) are sent, then corrected live."""
    assert article.id is not None
    done = await W.approve_update(bot.storage, bot.channels, bot.kinds, article, state,
                                  button.revision, who, now)  # fmt: skip
    if done.status in ("gone", "same"):
        return T.WATCH_GONE if done.status == "gone" else T.WATCH_SAME
    if done.status == "stale":
        # the newest texts, a fresh button
        await aio.call(_show_update, bot, article, state, who, where, now)
        return T.WATCH_STALE
    stamp = T.WATCH_UPDATED.format(who=who.name or who.user_id, when=local_time(now))
    head = await aio.read(alert_text, bot, article, state)
    if done.status == "done":
        _edit(bot, where, "\n".join([head, "", stamp, *done.lines]), ())
        return T.WATCH_ANS_UPDATED
    # Some channel refused: the button stays, so the same texts can be approved again.
    keyboard = (((T.BTN_WATCH_APPROVE, B.data("wa", article.id, button.revision or "")),),)
    _edit(bot, where, "\n".join([head, "", *done.lines]), keyboard)
    return T.WATCH_ANS_PARTIAL
