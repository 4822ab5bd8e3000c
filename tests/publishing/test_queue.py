"""Table tests for the queue: why each open post waits and when it should go out (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from syndicator.publishing.pacing import LOCAL
from syndicator.publishing.queue import ChannelView, QueueEntry, Wait, explain, idle_channels
from syndicator.storage.posts import PostRecord
from syndicator.types import PostStatus

S = PostStatus
NOW = datetime(2025, 11, 14, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội
EARLY = datetime(2025, 11, 13, 21, 55, tzinfo=UTC)  # 04:55 local, inside 22:00-06:00
QUIET = (time(22, 0), time(6, 0))
M = timedelta(minutes=1)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 11, day, hour, minute, tzinfo=LOCAL).astimezone(UTC)


def rec(post_id: int, status: PostStatus, channel: str = "facebook", **kw: Any) -> PostRecord:
    """A stored post as storage returns it (decided an hour before NOW unless told)."""
    base: dict[str, Any] = dict(
        id=post_id, article_id=post_id, channel=channel, status=status, payload={},
        payload_hash="h", preview_text="", marker="", edited=False,
        created_at=NOW - 120 * M, updated_at=NOW - 60 * M, decided_at=NOW - 60 * M + post_id * M,
        decided_by="x", reason=None, scheduled_for=None, attempts=0, last_attempt_at=None,
        next_attempt_at=None, reconcile_checks=0, last_error=None, error_class=None, handle=None,
        external_id=None, permalink=None, published_at=None,
    )  # fmt: skip
    base.update(kw)
    return PostRecord(**base)


def one(now: datetime, post: PostRecord, **channel: Any) -> QueueEntry:
    entries = explain(now, [post], {"facebook": ChannelView("facebook", **channel)}, {})
    assert len(entries) == 1
    return entries[0]


CASES = [
    # (name, now, post, channel keys, waiting_for, until, expected_at)
    ("due", NOW, rec(1, S.APPROVED), {}, Wait.NOTHING, None, NOW),
    ("scheduled", NOW, rec(1, S.SCHEDULED, scheduled_for=NOW + 90 * M,
                           next_attempt_at=NOW + 90 * M), {},
     Wait.SCHEDULED, NOW + 90 * M, NOW + 90 * M),
    ("quiet hours at 04:55", EARLY, rec(1, S.APPROVED), {"quiet_window": QUIET},
     Wait.QUIET_HOURS, local(14, 6), local(14, 6)),
    ("daily cap, then quiet hours", NOW, rec(1, S.APPROVED),
     {"max_per_day": 2, "published_today": 2, "quiet_window": QUIET},
     Wait.DAILY_CAP, local(15, 0), local(15, 6)),
    ("minimum interval", NOW, rec(1, S.APPROVED),
     {"min_interval": 20 * M, "last_published_at": NOW - 5 * M},
     Wait.MIN_INTERVAL, NOW + 15 * M, NOW + 15 * M),
    ("interval ends in quiet hours", local(14, 21, 50), rec(1, S.APPROVED),
     {"min_interval": 20 * M, "last_published_at": local(14, 21, 45), "quiet_window": QUIET},
     Wait.MIN_INTERVAL, local(14, 22, 5), local(15, 6)),
    ("paused by an admin", NOW, rec(1, S.APPROVED), {"status": "paused", "reason": "họp"},
     Wait.PAUSED, None, None),
    ("paused for credentials", NOW, rec(1, S.APPROVED), {"status": "needs_credentials"},
     Wait.CREDENTIALS, None, None),
    ("throttled", NOW, rec(1, S.APPROVED, error_class="throttled", next_attempt_at=NOW + 60 * M),
     {"blocked_until": NOW + 60 * M}, Wait.THROTTLED, NOW + 60 * M, NOW + 60 * M),
    ("blocked (368)", NOW, rec(1, S.APPROVED, error_class="blocked", next_attempt_at=NOW + 5 * M),
     {"blocked_until": NOW + 5 * M}, Wait.BLOCKED, NOW + 5 * M, NOW + 5 * M),
    ("backoff", NOW, rec(1, S.APPROVED, error_class="temporary", next_attempt_at=NOW + 4 * M,
                         last_error="timeout"), {},
     Wait.BACKOFF, NOW + 4 * M, NOW + 4 * M),
    ("pending", NOW, rec(1, S.PENDING), {}, Wait.APPROVAL, None, None),
    ("held", NOW, rec(1, S.HELD), {}, Wait.APPROVAL, None, None),
    ("switched off", NOW, rec(1, S.SKIPPED), {}, Wait.SWITCHED_OFF, None, None),
    ("being sent", NOW, rec(1, S.PUBLISHING, last_attempt_at=NOW), {}, Wait.PUBLISHING, None,
     None),
    ("unknown outcome", NOW, rec(1, S.PUBLISHING, error_class="ambiguous",
                                 next_attempt_at=NOW + M), {},
     Wait.PUBLISHING, NOW + M, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("now", "post", "channel", "wait", "until", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_one_post(
    now: datetime, post: PostRecord, channel: dict[str, Any], wait: Wait,
    until: datetime | None, expected: datetime | None,
) -> None:  # fmt: skip
    """Each cause is named with its end and the time the post is expected to go out."""
    entry = one(now, post, **channel)
    assert (entry.waiting_for, entry.until, entry.expected_at) == (wait, until, expected)


def test_cap_then_quiet_hours_is_explained_in_order() -> None:
    """A capped day names the cap first, then the quiet hours that push it further."""
    entry = one(NOW, rec(1, S.APPROVED), max_per_day=1, published_today=1, quiet_window=QUIET)
    assert entry.then == ((Wait.QUIET_HOURS, local(15, 6)),)


def test_pending_post_expires_after_the_approval_window() -> None:
    """A post awaiting approval says since when, and when it expires undecided."""
    post = rec(1, S.PENDING)
    entry = explain(NOW, [post], {}, {1: "Tiêu đề"}, expire_after=timedelta(hours=48))[0]
    assert entry.since == post.created_at
    assert entry.expires_at == post.created_at + timedelta(hours=48)
    assert entry.title == "Tiêu đề"


def test_line_is_spaced_by_the_minimum_interval() -> None:
    """Three approved posts go out one interval apart, in the publisher's claim order."""
    posts = [rec(3, S.APPROVED), rec(1, S.APPROVED), rec(2, S.APPROVED)]
    channel = ChannelView("facebook", min_interval=30 * M)
    entries = explain(NOW, posts, {"facebook": channel}, {})
    assert [(e.id, e.expected_at) for e in entries] == [
        (1, NOW), (2, NOW + 30 * M), (3, NOW + 60 * M),
    ]  # fmt: skip
    assert [e.waiting_for for e in entries] == [Wait.NOTHING, Wait.MIN_INTERVAL, Wait.MIN_INTERVAL]


def test_cap_moves_the_rest_of_the_line_to_tomorrow() -> None:
    """With one slot left today, the second post waits for the cap to reset at midnight."""
    posts = [rec(1, S.APPROVED), rec(2, S.APPROVED)]
    channel = ChannelView("facebook", max_per_day=3, published_today=2)
    first, second = explain(NOW, posts, {"facebook": channel}, {})
    assert (first.waiting_for, first.expected_at) == (Wait.NOTHING, NOW)
    assert (second.waiting_for, second.expected_at) == (Wait.DAILY_CAP, local(15, 0))


def test_scheduled_later_does_not_hold_back_a_due_post() -> None:
    """The publisher claims only due posts: an earlier post scheduled later lets a due one go."""
    later = rec(1, S.SCHEDULED, scheduled_for=NOW + 60 * M, next_attempt_at=NOW + 60 * M,
                decided_at=NOW - 90 * M)  # fmt: skip
    due = rec(2, S.APPROVED)
    entries = explain(NOW, [later, due], {"facebook": ChannelView("facebook")}, {})
    assert [(e.id, e.waiting_for, e.expected_at) for e in entries] == [
        (2, Wait.NOTHING, NOW), (1, Wait.SCHEDULED, NOW + 60 * M),
    ]  # fmt: skip


def test_an_unknown_outcome_holds_the_channel() -> None:
    """While a post's outcome is looked for, the channel's other posts wait for it."""
    stuck = rec(1, S.PUBLISHING, error_class="ambiguous", next_attempt_at=NOW + 30 * M / 60)
    waiting = rec(2, S.APPROVED)
    other = rec(3, S.APPROVED, channel="zalo")
    channels = {"facebook": ChannelView("facebook"), "zalo": ChannelView("zalo")}
    by_id = {e.id: e for e in explain(NOW, [stuck, waiting, other], channels, {})}
    assert by_id[1].waiting_for == Wait.PUBLISHING
    assert by_id[2].waiting_for == Wait.RECONCILING and by_id[2].detail == "post 1"
    assert by_id[2].expected_at == NOW + 30 * M / 60
    assert (by_id[3].waiting_for, by_id[3].expected_at) == (Wait.NOTHING, NOW)


def test_channel_missing_from_config_and_final_posts() -> None:
    """A post of a channel no longer configured says so; final posts are not in the queue."""
    posts = [rec(1, S.APPROVED, channel="old"), rec(2, S.PUBLISHED), rec(3, S.REJECTED)]
    entries = explain(NOW, posts, {"facebook": ChannelView("facebook")}, {})
    assert [(e.id, e.waiting_for, e.expected_at) for e in entries] == [(1, Wait.NO_CHANNEL, None)]


def test_idle_channels_lists_only_sendable_posts_of_channels_that_sent_nothing() -> None:
    """`publish --once` explains the approved posts of each channel that sent nothing."""
    posts = [rec(1, S.APPROVED), rec(2, S.PENDING), rec(3, S.APPROVED, channel="zalo")]
    channels = {"facebook": ChannelView("facebook", quiet_window=QUIET),
                "zalo": ChannelView("zalo")}  # fmt: skip
    entries = explain(EARLY, posts, channels, {})
    idle = idle_channels(entries, ["facebook"])
    assert list(idle) == ["facebook"]
    assert [(e.id, e.waiting_for) for e in idle["facebook"]] == [(1, Wait.QUIET_HOURS)]
