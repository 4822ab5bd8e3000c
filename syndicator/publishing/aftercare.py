"""After publication: taking a post down and correcting it, exactly once like publishing.

A take-down commits its intent first (`published` -> `removing`, audited with who and why),
then asks the channel to delete. Deleting is idempotent: when the answer is lost or the call
fails for a while, the post stays `removing` and the publisher asks again; a service that says
the post no longer exists confirms the take-down. A correction edits the live post in place
(Graph post edit, Zalo `article/update`); the same edit twice leaves the same post, so a lost
answer is settled by sending it again. The stored payload changes only once the channel
confirmed, so what the trail says is live is what is live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from syndicator.errors import CredentialsError, PublishError, ThrottledError
from syndicator.publishing.lifecycle import EventKind
from syndicator.storage import PostRecord, Storage, aio
from syndicator.storage.channels import NEEDS_CREDENTIALS
from syndicator.types import Post, PostStatus

if TYPE_CHECKING:
    from channels.base import Channel

log = structlog.get_logger("syndicator.aftercare")
S = PostStatus
RETRY_REMOVE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Done:
    """What happened to one post: `ok`, and a line for the person who asked."""

    post_id: int
    ok: bool
    message: str


async def take_down(
    storage: Storage,
    channels: Mapping[str, Channel],
    record: PostRecord,
    *,
    actor: str,
    reason: str,
    now: datetime,
    via: str,
) -> Done:
    """Commit the take-down of one live post, then try the delete once."""
    started = await aio.call(
        storage.begin_takedown, record.id, actor=actor, reason=reason, now=now, via=via
    )
    if started is None:
        return Done(record.id, False, f"post {record.id} is {record.status.value}, not live")
    channel = channels.get(record.channel)
    if channel is None:
        return Done(
            record.id, False, f"post {record.id}: channel {record.channel} is not configured"
        )
    return await _remove(storage, channel, started, now)


async def finish_removals(
    storage: Storage,
    channels: Mapping[str, Channel],
    clock: Callable[[], datetime],
    *,
    due: list[PostRecord] | None = None,
) -> None:
    """The publisher's turn: make the delete calls still owed (after a failure or a crash).
    `due`: the posts owed, when the caller read them already."""
    now = clock()
    if due is None:
        due = await aio.call(storage.due_removals, now)
    for record in due:
        channel = channels.get(record.channel)
        if channel is None:
            continue
        if (await aio.call(storage.channel_status, record.channel)).can_publish(now):
            await _remove(storage, channel, record, now)


async def _remove(storage: Storage, channel: Channel, record: PostRecord, now: datetime) -> Done:
    if not record.external_id:
        await aio.call(storage.finish_takedown, record.id, now=now, found=False)
        return Done(record.id, True, f"post {record.id}: nothing was live")
    try:
        found = await channel.remove(record.external_id)
    except PublishError as exc:
        wait = exc.retry_after if isinstance(exc, ThrottledError) and exc.retry_after else None
        later = now + (timedelta(seconds=wait) if wait else RETRY_REMOVE)
        await aio.call(
            storage.record_outcome,
            record.id, status=S.REMOVING, now=now, error=str(exc)[:2000],
            error_class="credentials" if isinstance(exc, CredentialsError) else "remove",
            next_attempt_at=later, event=EventKind.REMOVE_RETRY, expected=S.REMOVING,
        )  # fmt: skip
        if isinstance(exc, CredentialsError):
            await aio.call(
                storage.set_channel_status,
                record.channel, NEEDS_CREDENTIALS, reason=exc.message, actor="publisher", now=now,
            )  # fmt: skip
        log.warning("takedown_pending", post=record.id, channel=record.channel, error=str(exc))
        return Done(
            record.id, False, f"post {record.id} ({record.channel}): not yet removed — {exc}; "
            "the daemon tries again"
        )  # fmt: skip
    await aio.call(storage.finish_takedown, record.id, now=now, found=found)
    gone = "removed" if found else "was already gone"
    log.info("post_removed", post=record.id, channel=record.channel, found=found)
    return Done(record.id, True, f"post {record.id} ({record.channel}): {gone}")


async def correct(
    storage: Storage,
    channel: Channel,
    record: PostRecord,
    post: Post,
    *,
    actor: str,
    now: datetime,
    via: str,
) -> Done:
    """Edit a live post to carry `post`'s payload; stored once the channel confirmed."""
    if record.status != S.PUBLISHED or not record.external_id:
        return Done(record.id, False, f"post {record.id} is {record.status.value}, not live")
    try:
        await channel.update(post, record.external_id)
    except PublishError as exc:
        await aio.call(
            storage.record_event,
            EventKind.UPDATE_FAILED, actor=actor, subject=f"post:{record.id}",
            data={"channel": record.channel, "error": str(exc)[:500], "via": via}, now=now,
        )  # fmt: skip
        return Done(record.id, False, f"post {record.id} ({record.channel}): not corrected — {exc}")
    await aio.call(storage.record_correction, record.id, post, actor=actor, now=now, via=via)
    return Done(record.id, True, f"post {record.id} ({record.channel}): corrected")
