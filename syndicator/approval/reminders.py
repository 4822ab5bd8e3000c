"""Reminders and expiry of waiting articles, and the urgent lane.

An article waits from the creation of its first post. After `remind_after` (or
`urgent_remind_after` for urgent ones) its preview gets exactly one reminder, claimed in the
database first so a restart does not repeat it; after `expire_after` its open posts become
EXPIRED through approval/expiry.py (audited), and the buttons go; the daemon also ticks that
expiry on its own, so it works without Telegram.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from syndicator.approval import texts as T
from syndicator.approval.expiry import expire_article
from syndicator.approval.preview import clip, is_open
from syndicator.approval.sendqueue import NORMAL
from syndicator.config import ApprovalSettings
from syndicator.storage import aio
from syndicator.storage.approval import PostState
from syndicator.types import Article, Flag, PostStatus

if TYPE_CHECKING:
    from syndicator.approval.bot import ApprovalBot

S = PostStatus
log = structlog.get_logger("syndicator.approval.reminders")
# Reminders are due after 20 minutes at the soonest and expiry after hours; previews decided
# elsewhere are refreshed by the audit feed at once (alerts.py), this pass only backs it up.
# Every bot tick (2 s) it read every open preview's posts: on a busy desk ~2 % of the daemon.
PASS_EVERY = timedelta(seconds=30)


def is_urgent(article: Article, cfg: ApprovalSettings) -> bool:
    """Flagged urgent by classification, in an urgent category, or with an urgent keyword."""
    if Flag.URGENT in article.flags or set(article.categories) & set(cfg.urgent_categories):
        return True
    text = unicodedata.normalize("NFC", f"{article.title} {article.summary}").lower()
    return any(unicodedata.normalize("NFC", k).lower() in text for k in cfg.urgent_keywords if k)


def age_text(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    days, hours, mins = minutes // 1440, (minutes % 1440) // 60, minutes % 60
    if days:
        return T.AGE_DAYS.format(d=days, h=hours)
    if hours:
        return T.AGE_HOURS.format(h=hours, m=mins)
    return T.AGE_MINUTES.format(m=mins)


class Reminders:
    def __init__(self, bot: ApprovalBot) -> None:
        self.bot = bot
        self.last_pass: datetime | None = None

    async def run(self, now: datetime) -> None:
        """One pass over the open previews (at most every PASS_EVERY): the storage work on the
        storage thread, then the refreshes and the reminders queued here."""
        last = self.last_pass
        if last is not None and last <= now < last + PASS_EVERY:
            return
        self.last_pass = now
        refresh, expired, reminders = await aio.call(self._pass, now)
        for article_id in expired:
            self.bot.menus.pop(article_id, None)
        for article_id in (*refresh, *expired):
            self.bot.refresh(article_id)  # closes it and stamps the decision
        for chat_id, message_id, text in reminders:
            self.bot.say(chat_id, text, reply_to=message_id, priority=NORMAL)

    def _pass(self, now: datetime) -> tuple[list[int], list[int], list[tuple[int, int, str]]]:
        """(articles to refresh, articles expired, reminders to send); blocking."""
        bot, cfg, done = self.bot, self.bot.cfg, set()
        refresh: list[int] = []
        expired: list[int] = []
        reminders: list[tuple[int, int, str]] = []
        previews = bot.storage.open_previews()
        # One read of every open preview's posts, not one per preview each tick.
        by_article: dict[int, list[PostState]] = {}
        ids = sorted({preview.article_id for preview in previews})
        for start in range(0, len(ids), 500):  # IN lists stay small on every backend
            for post in bot.storage.post_states(ids[start : start + 500]):
                by_article.setdefault(post.article_id, []).append(post)
        first_due = min(cfg.remind_after, cfg.urgent_remind_after)
        for preview in previews:
            if preview.article_id in done:
                continue
            done.add(preview.article_id)
            posts = by_article.get(preview.article_id, [])
            if not is_open(posts):
                refresh.append(preview.article_id)
                continue
            since = min(p.created_at for p in posts)
            age = now - since
            if age >= cfg.expire_after:
                self._expire(preview.article_id, [p.id for p in posts], now)
                expired.append(preview.article_id)
                continue
            if preview.reminded_at is not None or age < first_due:
                continue  # no reminder can be due: the article itself need not be read
            article = bot.storage.get_article(preview.article_id)
            if article is None:
                continue
            urgent = is_urgent(article, cfg)
            due = cfg.urgent_remind_after if urgent else cfg.remind_after
            if preview.reminded_at is not None or age < due:
                continue
            if bot.storage.mark_reminded(preview.id, now):  # claimed first: one reminder ever
                template = T.REMINDER_URGENT if urgent else T.REMINDER
                text = template.format(
                    article=article.id, age=age_text(age), title=clip(article.title, 200)
                )
                reminders.append((preview.chat_id, preview.message_id, text))
                log.info("approval_reminded", article=article.id, urgent=urgent)
        return refresh, expired, reminders

    def _expire(self, article_id: int, post_ids: list[int], now: datetime) -> None:
        bot = self.bot
        moved = expire_article(bot.storage, post_ids, now)  # the daemon's expiry, shared
        bot.storage.set_preview_state(article_id, "closed", now)
        log.info("approval_expired", article=article_id, posts=[r.id for r in moved])
