"""Expiry of articles nobody decided: a storage matter, whatever surface the staff use.

An article waits from the creation of its first post; after `[approval] expire_after` its open
posts become EXPIRED through storage.decide() (one audited `post.expired` per post, in the same
transaction). The daemon ticks `expire_due` on the leader whether staff decide in Telegram, in
Zalo or in both, so an office with Zalo alone expires too; each surface then shows the outcome
from the database (Telegram stamps its preview, Zalo sends a note).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog

from syndicator.storage import PostRecord, Storage
from syndicator.types import PostStatus

S = PostStatus
EXPIRY_ACTOR = "approval:expiry"
EXPIRABLE = (S.PENDING, S.HELD, S.SKIPPED)
log = structlog.get_logger("syndicator.approval.expiry")


def is_expired(posts: Sequence[PostRecord], expire_after: timedelta, now: datetime) -> bool:
    """Pure: the article has waited `expire_after` since its first post was created."""
    if not posts:
        return False
    return now - min(p.created_at for p in posts) >= expire_after


def expire_article(storage: Storage, post_ids: Sequence[int], now: datetime) -> list[PostRecord]:
    """Move the article's posts that still wait to EXPIRED (audited); return those moved."""
    return storage.decide(
        post_ids, S.EXPIRED, actor=EXPIRY_ACTOR, now=now, reason="expire_after",
        allowed_from=EXPIRABLE,
    )  # fmt: skip


def expire_due(storage: Storage, expire_after: timedelta, now: datetime) -> list[int]:
    """Expire every waiting article past `expire_after`; return the articles expired."""
    expired: list[int] = []
    for article_id in storage.expired_article_ids(now - expire_after, limit=1000):
        posts = storage.list_posts(article_id=article_id)
        if not is_expired(posts, expire_after, now):
            continue
        moved = expire_article(storage, [p.id for p in posts], now)
        if moved:
            expired.append(article_id)
            log.info("approval_expired", article=article_id, posts=[p.id for p in moved])
    return expired
