"""Which channels an article goes to, rendered, and whether a human must decide. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from syndicator.config import ApprovalSettings, AutoApproveRule
from syndicator.storage.posts import PostPlan
from syndicator.types import Article, Post, PostStatus


class Routable(Protocol):
    """What the planner needs of a channel (channels.base.Channel satisfies it)."""

    name: str

    @property
    def settings(self) -> Any: ...

    def render(self, article: Article, settings: Any = None) -> Post: ...


def rule_matches(rule: AutoApproveRule, article: Article) -> bool:
    if rule.source not in (None, "*", article.source_id):
        return False
    return not rule.categories or bool(set(rule.categories) & set(article.categories))


def initial_status(article: Article, approval: ApprovalSettings) -> tuple[PostStatus, str | None]:
    """HELD for secrecy-marked articles (always a human); APPROVED by mode or rule; else PENDING."""
    if article.held:
        return PostStatus.HELD, None
    if approval.mode == "auto":
        return PostStatus.APPROVED, "auto"
    for index, rule in enumerate(approval.auto_approve):
        if rule_matches(rule, article):
            return PostStatus.APPROVED, f"rule:auto_approve[{index}]"
    return PostStatus.PENDING, None


def too_old(article: Article, now: datetime, max_age: timedelta) -> bool:
    """Articles already old when first seen (a new source's backlog) get no posts."""
    when = article.published_at or article.first_seen_at
    return when is not None and when < now - max_age


def plan_posts(
    article: Article,
    channels: Mapping[str, Routable],
    approval: ApprovalSettings,
    now: datetime,
    max_age: timedelta,
) -> tuple[list[PostPlan], str | None]:
    """The posts to create for `article`, or none with the reason."""
    if article.duplicate_of is not None:
        return [], f"duplicate of article {article.duplicate_of}"
    if too_old(article, now, max_age):
        return [], f"older than publishing.max_article_age ({max_age})"
    status, decided_by = initial_status(article, approval)
    plans = [
        PostPlan(channel.render(article), status, decided_by)
        for channel in channels.values()
        if channel.settings.enabled and channel.settings.accepts(article)
    ]
    return plans, None if plans else "no channel's routing accepts it"
