"""What the publisher reads of a channel before it claims a post, in one read.

Each turn (every `publishing.interval`, 2 s by default) drains every channel: may it publish,
is an earlier outcome still unknown, how many went out today and when the last did, and is
an approved post due at all. Asked one at a time, that was three reads and a write
transaction (the claim, even with nothing to claim) per channel per turn; a tenth of an idle
daemon's storage CPU (issue 11, docs/benchmarks.md). Now it is one read, and the claim is
made only when the read saw a post to take. Most turns nothing is due: then the read is the
channel's status and one statement asking both questions (publishing, due); the day's counts,
which only pacing needs, are read when a post is due (two statements fewer a channel a turn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, or_, select

from syndicator.publishing.lifecycle import SENDABLE
from syndicator.storage.channels import ChannelsMixin, ChannelStatus
from syndicator.storage.models import PostRow
from syndicator.storage.posts import PostsMixin
from syndicator.types import PostStatus


def sendable_due(channel: str, now: datetime) -> list[Any]:
    """The conditions of a post that `claim_post` may take now: shared, so that what the
    drain reads and what the claim takes cannot disagree."""
    return [
        PostRow.channel == channel,
        PostRow.status.in_([s.value for s in SENDABLE]),
        or_(PostRow.next_attempt_at.is_(None), PostRow.next_attempt_at <= now),
    ]


# Which of some statuses have a post (whose next attempt is due): built once (ix_posts_status).
_STATUSES = (
    select(PostRow.status)
    .where(PostRow.status.in_(bindparam("statuses", expanding=True)))
    .group_by(PostRow.status)
)
_DUE_STATUSES = _STATUSES.where(
    or_(PostRow.next_attempt_at.is_(None), PostRow.next_attempt_at <= bindparam("now"))
)


@dataclass(frozen=True, slots=True)
class DrainState:
    status: ChannelStatus
    publishing: bool  # a post of the channel is in publishing: its outcome comes first
    published_today: int  # since the `since` asked (the local midnight); 0 when not due
    last_published_at: datetime | None  # None when not due: only pacing a send needs them
    due: bool  # a post may be claimed now (claim_post would find one)


class DrainMixin(PostsMixin, ChannelsMixin):
    def due_statuses(self, statuses: Sequence[PostStatus], now: datetime | None) -> set[PostStatus]:
        """Which of these statuses have a post due at `now` (next attempt unset or past; None:
        any post): one indexed read, asked before reading posts whole. The publisher's turn and
        the health snapshot made their ORM reads every time, nearly always for nothing."""
        params: dict[str, Any] = {"statuses": [s.value for s in statuses]}
        if now is not None:
            params["now"] = now
        query = _STATUSES if now is None else _DUE_STATUSES
        with self._read_conn() as conn:
            return {PostStatus(row[0]) for row in conn.execute(query, params)}

    def drain_state(self, channel: str, now: datetime, since: datetime) -> DrainState:
        """Everything the drain of `channel` decides on before claiming, in one session."""
        with self.reading(), self._read() as session:
            status = self.channel_status(channel)
            publishing_now = PostRow.status == PostStatus.PUBLISHING.value
            row = session.execute(
                select(
                    exists().where(PostRow.channel == channel, publishing_now),
                    exists().where(*sendable_due(channel, now)),
                )
            ).one()
            publishing, due = bool(row[0]), bool(row[1])
            today, last = self.publishing_counts(channel, since) if due else (0, None)
        return DrainState(status, publishing, today, last, due)
