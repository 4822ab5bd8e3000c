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

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, or_, select

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


@dataclass(frozen=True, slots=True)
class DrainState:
    status: ChannelStatus
    publishing: bool  # a post of the channel is in publishing: its outcome comes first
    published_today: int  # since the `since` asked (the local midnight); 0 when not due
    last_published_at: datetime | None  # None when not due: only pacing a send needs them
    due: bool  # a post may be claimed now (claim_post would find one)


class DrainMixin(PostsMixin, ChannelsMixin):
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
