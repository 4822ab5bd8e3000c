"""The queue: for every open post, why it waits and when it is expected to go out. Pure.

`explain(now, posts, channels, titles)` replays what the publisher will do (`publisher.drain`):
per channel it takes sendable posts in the order `storage.claim_post` takes them (scheduled
time or decision time, then id), only once their `next_attempt_at` has come, and spaces them
with the same `pacing.next_allowed` the publisher uses. So `syndicator queue`, `/lich` and
`publish --once` tell the same truth as the publisher. The times are estimates: a post that
fails, a new approval or an admin's pause changes them.

The inputs are plain values (`ChannelView` is built by `channel_view` from storage and config
outside this module's pure core), so the decisions are tested by tables of cases.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from syndicator.publishing.lifecycle import ACTIVE, OPEN, SENDABLE
from syndicator.publishing.pacing import local_midnight, next_allowed, quiet_until
from syndicator.storage.posts import PostRecord
from syndicator.types import PostStatus

if TYPE_CHECKING:
    from syndicator.storage import Storage

S = PostStatus
PAUSED, NEEDS_CREDENTIALS = "paused", "needs_credentials"  # storage.channels states


class Wait(enum.StrEnum):
    """Why a post is not out yet (the `waiting_for` field of `syndicator queue`)."""

    APPROVAL = "approval"  # pending/held: a human must decide (since = created)
    SWITCHED_OFF = "switched_off"  # an editor turned this channel off for the article
    SCHEDULED = "scheduled"  # approved for a later time (until = scheduled_for)
    BACKOFF = "backoff"  # a temporary error; the next attempt is at `until`
    THROTTLED = "throttled"  # the service asked us to wait (until = blocked_until)
    BLOCKED = "blocked"  # Graph 368 and the like: the channel rests for hours
    QUIET_HOURS = "quiet_hours"  # the channel's quiet window (until = its end)
    DAILY_CAP = "daily_cap"  # max_per_day reached (until = local midnight)
    MIN_INTERVAL = "min_interval"  # min_interval since the previous post (until = then)
    PAUSED = "paused"  # an admin paused the channel: no time can be given
    CREDENTIALS = "credentials"  # the token was refused: `syndicator channels set-token`
    RECONCILING = "reconciling"  # another post of the channel has an unknown outcome
    PUBLISHING = "publishing"  # this post is being sent, or its outcome is being looked for
    NO_CHANNEL = "no_channel"  # the channel is no longer in the config
    NOTHING = "nothing"  # due: goes out at the publisher's next pass


# Waits with no end we can compute: a human must act first.
OPEN_ENDED = frozenset({Wait.APPROVAL, Wait.SWITCHED_OFF, Wait.PAUSED, Wait.CREDENTIALS,
                        Wait.NO_CHANNEL})  # fmt: skip


@dataclass(frozen=True, slots=True)
class ChannelView:
    """What the queue needs to know about one channel, read once."""

    name: str
    status: str = "active"  # active / paused / needs_credentials (storage.channels)
    reason: str | None = None  # why it is paused
    blocked_until: datetime | None = None  # throttled or blocked by the service
    min_interval: timedelta | None = None
    max_per_day: int | None = None
    quiet_window: tuple[time, time] | None = None
    published_today: int = 0  # since local midnight of `now`
    last_published_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One open post and the answer to "khi nào bài này lên?"."""

    id: int
    article_id: int
    title: str
    channel: str
    status: PostStatus
    waiting_for: Wait
    since: datetime | None = None  # the wait began (approval: when the post was created)
    until: datetime | None = None  # the cause ends (quiet hours end, backoff ends ...)
    expected_at: datetime | None = None  # when it should go out; None when a human must act
    then: tuple[tuple[Wait, datetime], ...] = ()  # further causes after `until` (cap → quiet)
    detail: str | None = None  # the pause reason, the other post being reconciled ...
    expires_at: datetime | None = None  # pending/held: when it expires without a decision


def explain(
    now: datetime,
    posts: Iterable[PostRecord],
    channels: Mapping[str, ChannelView],
    titles: Mapping[int, str],
    *,
    expire_after: timedelta | None = None,
) -> list[QueueEntry]:
    """Every open post (`lifecycle.ACTIVE`) with why it waits, ordered by expected time."""
    active = [p for p in posts if p.status in ACTIVE]
    out: list[QueueEntry] = []
    by_channel: dict[str, list[PostRecord]] = {}
    for post in active:
        title = titles.get(post.article_id, "")
        if post.status in OPEN:
            expires = post.created_at + expire_after if expire_after else None
            out.append(_entry(post, title, Wait.APPROVAL, since=post.created_at,
                              expires_at=expires))  # fmt: skip
        elif post.status == S.SKIPPED:
            out.append(_entry(post, title, Wait.SWITCHED_OFF, since=post.updated_at))
        elif post.status == S.PUBLISHING:
            until = post.next_attempt_at if post.error_class else None
            out.append(
                _entry(post, title, Wait.PUBLISHING, since=post.last_attempt_at, until=until,
                       detail=post.last_error)
            )  # fmt: skip
        else:
            by_channel.setdefault(post.channel, []).append(post)
    for name, sendable in by_channel.items():
        publishing = [p for p in active if p.channel == name and p.status == S.PUBLISHING]
        out.extend(_channel_line(now, sendable, channels.get(name), publishing, titles))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(out, key=lambda e: (e.expected_at or far, e.since or far, e.id))


def _channel_line(
    now: datetime,
    posts: list[PostRecord],
    channel: ChannelView | None,
    publishing: Sequence[PostRecord],
    titles: Mapping[int, str],
) -> list[QueueEntry]:
    """Replay `publisher.drain` for one channel's approved and scheduled posts."""
    if channel is None:
        return [_entry(p, titles.get(p.article_id, ""), Wait.NO_CHANNEL) for p in posts]
    if channel.status in (PAUSED, NEEDS_CREDENTIALS):
        wait = Wait.PAUSED if channel.status == PAUSED else Wait.CREDENTIALS
        return [_entry(p, titles.get(p.article_id, ""), wait, detail=channel.reason) for p in posts]
    # What holds the whole channel back before pacing is even asked.
    start: datetime = now
    held: tuple[Wait, datetime, str | None] | None = None
    if channel.blocked_until is not None and channel.blocked_until > now:
        start = channel.blocked_until
        blocked = any(p.error_class == "blocked" for p in posts)
        held = (Wait.BLOCKED if blocked else Wait.THROTTLED, channel.blocked_until, None)
    if publishing:
        # One unknown outcome at a time per channel: nothing else goes before it is resolved.
        first = publishing[0]
        look = max(start, first.next_attempt_at or now)
        start = look
        held = (Wait.RECONCILING, look, f"post {first.id}")
    order = sorted(posts, key=lambda p: (p.scheduled_for or p.decided_at or p.created_at, p.id))
    out: list[QueueEntry] = []
    t = start
    last, day, count = channel.last_published_at, local_midnight(now), channel.published_today
    while order:
        count_then = count if local_midnight(t) == day else 0
        slot = _slot(t, channel, last, count_then)
        due = [p for p in order if p.next_attempt_at is None or p.next_attempt_at <= slot]
        if not due:
            t = min(p.next_attempt_at for p in order if p.next_attempt_at is not None)
            continue
        post = due[0]
        order.remove(post)
        causes = _causes(now, post, channel, last, count_then, t, slot)
        if held is not None and (not causes or held[1] >= causes[0][1]):
            causes.insert(0, (held[0], held[1]))
        wait, until = causes[0] if causes else (Wait.NOTHING, None)
        detail = held[2] if held is not None and wait == held[0] else None
        out.append(
            _entry(post, titles.get(post.article_id, ""), wait, until=until, expected_at=slot,
                   then=tuple(causes[1:]), detail=detail,
                   since=post.updated_at if wait in (Wait.BACKOFF, Wait.THROTTLED) else None)
        )  # fmt: skip
        if local_midnight(slot) != day:
            day, count = local_midnight(slot), 0
        count += 1
        last, t = slot, slot
    return out


def _slot(t: datetime, c: ChannelView, last: datetime | None, today: int) -> datetime:
    return next_allowed(
        t, min_interval=c.min_interval, max_per_day=c.max_per_day, quiet_window=c.quiet_window,
        last_published_at=last, published_today=today,
    )  # fmt: skip


def _causes(
    now: datetime,
    post: PostRecord,
    c: ChannelView,
    last: datetime | None,
    today: int,
    t: datetime,
    slot: datetime,
) -> list[tuple[Wait, datetime]]:
    """The causes that push `post` past `now`, in the order they apply (the first is the
    answer; the others say why the time is later still)."""
    causes: list[tuple[Wait, datetime]] = []
    if post.next_attempt_at is not None and post.next_attempt_at > now:
        if post.status == S.SCHEDULED and post.scheduled_for == post.next_attempt_at:
            kind = Wait.SCHEDULED
        elif post.error_class == "blocked":
            kind = Wait.BLOCKED
        elif post.error_class == "throttled":
            kind = Wait.THROTTLED
        else:
            kind = Wait.BACKOFF
        causes.append((kind, post.next_attempt_at))
    when = max(t, post.next_attempt_at or t)
    if slot <= max(when, now):
        return causes
    # Pacing, in the order next_allowed applies it.
    if c.max_per_day is not None and today >= c.max_per_day:
        midnight = local_midnight(when) + timedelta(days=1)
        causes.append((Wait.DAILY_CAP, midnight))
        when = max(when, midnight)
    if c.min_interval and last is not None and last + c.min_interval > when:
        causes.append((Wait.MIN_INTERVAL, last + c.min_interval))
        when = last + c.min_interval
    for _ in range(2):
        end = quiet_until(when, c.quiet_window)
        if end is None:
            break
        causes.append((Wait.QUIET_HOURS, end))
        when = end
    return causes


def _entry(post: PostRecord, title: str, wait: Wait, **kw: Any) -> QueueEntry:
    return QueueEntry(
        id=post.id, article_id=post.article_id, title=title, channel=post.channel,
        status=post.status, waiting_for=wait, **kw,
    )  # fmt: skip


def idle_channels(
    entries: Sequence[QueueEntry], channels: Iterable[str]
) -> dict[str, list[QueueEntry]]:
    """For `publish --once`: the posts of each channel that are sendable but did not go out."""
    out: dict[str, list[QueueEntry]] = {}
    for name in channels:
        waiting = [e for e in entries if e.channel == name and e.status in SENDABLE]
        if waiting:
            out[name] = waiting
    return out


# -- reading the inputs (the one impure part; callers run it off the event loop) -------------


class Pacing(Protocol):
    """The pacing keys of a channel table (`channels.base.ChannelSettings` has them)."""

    @property
    def min_interval(self) -> timedelta | None: ...
    @property
    def max_per_day(self) -> int | None: ...
    @property
    def quiet_window(self) -> tuple[time, time] | None: ...


@dataclass(frozen=True, slots=True)
class Snapshot:
    posts: list[PostRecord]
    channels: dict[str, ChannelView]
    titles: dict[int, str]


def snapshot(storage: Storage, pacing: Mapping[str, Pacing], now: datetime) -> Snapshot:
    """Read the open posts, the channels' states and counts, and the titles, once."""
    posts = storage.list_posts(status=sorted(ACTIVE))
    channels: dict[str, ChannelView] = {}
    for name, cfg in pacing.items():
        state = storage.channel_status(name)
        today, last = storage.publishing_counts(name, local_midnight(now))
        channels[name] = ChannelView(
            name=name, status=state.status, reason=state.reason,
            blocked_until=state.blocked_until, min_interval=cfg.min_interval,
            max_per_day=cfg.max_per_day, quiet_window=cfg.quiet_window,
            published_today=today, last_published_at=last,
        )  # fmt: skip
    titles: dict[int, str] = {}
    for article_id in sorted({p.article_id for p in posts}):
        article = storage.get_article(article_id)
        titles[article_id] = article.title if article is not None else ""
    return Snapshot(posts, channels, titles)
