"""The optional daily Zalo digest: one broadcast of up to 5 articles published that day.

Zalo's per-follower quotas (about one broadcast a day, four a month on common packages) make a
broadcast per article impossible, so the digest is off by default. A broadcast is not
idempotent and has no lookup: it is attempted at most once a day, and an unknown outcome is
recorded for a human, never retried.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import structlog

from syndicator.errors import AmbiguousError, PublishError
from syndicator.publishing.pacing import LOCAL
from syndicator.storage import PostRecord, Storage, aio
from syndicator.types import PostStatus

if TYPE_CHECKING:
    from channels.base import Channel

log = structlog.get_logger("syndicator.digest")
MAX_ARTICLES = 5
WINDOW = (time(6, 0), time(20, 0))  # Zalo delivers broadcasts in this local window only
KINDS = ["zalo.digest", "zalo.digest_failed", "zalo.digest_unknown"]


def digest_due(now: datetime, at: time, last_day: date | None) -> bool:
    """Whether today's digest should go now: past `at`, inside 06:00-20:00, not yet sent today."""
    local = now.astimezone(LOCAL)
    if last_day == local.date():
        return False
    return at <= local.time() and WINDOW[0] <= local.time() < WINDOW[1]


@runtime_checkable
class Broadcaster(Protocol):
    """A channel that can send a digest of published articles to its followers (Zalo OA)."""

    async def broadcast_digest(self, article_ids: list[str]) -> str: ...


def _due_posts(storage: Storage, name: str, at: time, now: datetime) -> list[PostRecord]:
    """The posts of today's digest if it is due, else none (blocking: storage reads)."""
    last_day = None
    for event in storage.audit_events(since=now - timedelta(days=2), kinds=KINDS):
        if event.subject == f"channel:{name}":
            last_day = date.fromisoformat(json.loads(event.data)["day"])
    if not digest_due(now, at, last_day):
        return []
    since = now - timedelta(days=1)
    return [
        p
        for p in storage.list_posts(status=[PostStatus.PUBLISHED], channel=name)
        if p.published_at and p.published_at >= since and p.external_id
    ][-MAX_ARTICLES:]


async def maybe_send_digest(
    storage: Storage, name: str, channel: Channel, now: datetime
) -> str | None:
    """Send today's digest for a Zalo channel when it is due; return the message id."""
    settings = channel.settings
    if not getattr(settings, "digest", False) or not isinstance(channel, Broadcaster):
        return None
    raw_at = getattr(settings, "digest_time", "07:00")
    at = raw_at if isinstance(raw_at, time) else time.fromisoformat(str(raw_at))
    # The publisher asks every cycle: its reads run on the readers' thread, never the loop.
    posts = await aio.read(_due_posts, storage, name, at, now)
    day = now.astimezone(LOCAL).date().isoformat()
    if not posts:
        return None
    ids = [p.external_id for p in posts if p.external_id]
    base = {"day": day, "articles": ids, "posts": [p.id for p in posts]}
    try:
        message_id = await channel.broadcast_digest(ids)
    except (AmbiguousError, PublishError) as exc:
        # Unknown: Zalo may have sent it, so it is not retried today either way.
        outcome = "unknown" if isinstance(exc, AmbiguousError) else "failed"
        await aio.call(
            storage.record_event,
            f"zalo.digest_{outcome}",
            actor="publisher",
            subject=f"channel:{name}",
            data={**base, "error": str(exc)},
            now=now,
        )
        log.error(f"digest_{outcome}", channel=name, error=str(exc))
        return None
    await aio.call(
        storage.record_event,
        "zalo.digest",
        actor="publisher",
        subject=f"channel:{name}",
        data={**base, "message_id": message_id},
        now=now,
    )
    log.info("digest_sent", channel=name, articles=len(ids), message_id=message_id)
    return message_id
