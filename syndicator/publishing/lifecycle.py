"""A post's life in one place: its states, the moves allowed between them, and what an error
means next. Pure: no I/O, no clock. `docs/posts.md` shows the same table for people.

The publisher, the CLI and every approval surface read the state sets defined here
(`OPEN`, `SENDABLE`, `FINAL`...), and storage refuses any move not in `TRANSITIONS` (every
state change is a compare-and-set from an expected state, see `storage/posts.py`).

`outcome_for(error, phase)` is the single answer to "the channel raised this; now what?".
The rule that makes publishing exactly-once: after a *create* call, anything that does not
prove nothing was created (HTTP 5xx, Graph codes 1/2, Zalo -100/-32, a timeout, a dropped
connection) is an unknown outcome, and an unknown outcome is resolved by looking at the
platform (reconcile) before anything is sent again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from syndicator.errors import (
    AmbiguousError,
    ChannelBlockedError,
    CredentialsError,
    PermanentError,
    PublishError,
    TemporaryError,
    ThrottledError,
)
from syndicator.types import PostStatus

S = PostStatus

OPEN = frozenset({S.PENDING, S.HELD})  # waiting for a human decision
WAITING = frozenset({S.PENDING, S.HELD, S.SKIPPED})  # may still expire
SENDABLE = frozenset({S.APPROVED, S.SCHEDULED})  # the publisher may claim them
UNRESOLVED = frozenset({S.FAILED, S.NEEDS_HUMAN})  # an admin may retry them
FINAL = frozenset({S.REJECTED, S.EXPIRED, S.REMOVED})
LIVE = frozenset({S.PUBLISHED})  # on the channel: may be corrected or taken down
# Still in the pipeline: counted as "open" by the queue, reports and health checks.
ACTIVE = frozenset({*WAITING, *SENDABLE, S.PUBLISHING})


class EventKind(enum.StrEnum):
    """Every audit event a post's life writes (the `kind` column of the audit trail)."""

    CREATED = "post.created"
    RERENDERED = "post.rerendered"
    EDITED = "post.edited"
    PENDING = "post.pending"
    HELD = "post.held"
    APPROVED = "post.approved"
    SCHEDULED = "post.scheduled"
    REJECTED = "post.rejected"
    SKIPPED = "post.skipped"
    EXPIRED = "post.expired"
    ATTEMPT = "post.attempt"
    PUBLISHED = "post.published"
    RETRY = "post.retry"
    THROTTLED = "post.throttled"
    BLOCKED = "post.blocked"
    WAITING_CREDENTIALS = "post.waiting_credentials"
    AMBIGUOUS = "post.ambiguous"
    RECONCILE_MISS = "post.reconcile_miss"
    RECONCILE_FAILED = "post.reconcile_failed"
    NEEDS_HUMAN = "post.needs_human"
    FAILED = "post.failed"
    CORRECTED = "post.corrected"
    UPDATE_FAILED = "post.update_failed"
    TAKEDOWN = "post.takedown"
    REMOVED = "post.removed"
    REMOVE_RETRY = "post.remove_retry"
    NOT_PLANNED = "article.not_planned"

    @classmethod
    def decision(cls, to: PostStatus) -> EventKind:
        """The event of a human (or rule) decision moving a post to `to`."""
        return cls(f"post.{to.value}")


# (from, to) pairs storage accepts. A move from a state to itself is an update in place
# (re-render, edit, another reconcile look, a new attempt after a confirmed absence).
TRANSITIONS: frozenset[tuple[PostStatus, PostStatus]] = frozenset(
    {
        *((a, b) for a in OPEN for b in OPEN),  # re-render, edit, held <-> pending
        *((a, S.APPROVED) for a in OPEN),
        *((a, S.SCHEDULED) for a in OPEN),
        *((a, S.REJECTED) for a in OPEN),
        *((a, S.SKIPPED) for a in OPEN),
        (S.SKIPPED, S.PENDING),
        (S.SKIPPED, S.HELD),
        *((a, S.EXPIRED) for a in WAITING),
        (S.SCHEDULED, S.APPROVED),
        *((a, S.PUBLISHING) for a in SENDABLE),
        (S.PUBLISHING, S.PUBLISHING),
        (S.PUBLISHING, S.PUBLISHED),
        (S.PUBLISHING, S.APPROVED),
        (S.PUBLISHING, S.FAILED),
        (S.PUBLISHING, S.NEEDS_HUMAN),
        *((a, S.APPROVED) for a in UNRESOLVED),  # an admin's /retry
        (S.PUBLISHED, S.PUBLISHED),  # a correction edits the live post in place
        (S.PUBLISHED, S.REMOVING),  # a take-down is committed before the delete call
        (S.REMOVING, S.REMOVING),  # the delete's outcome is unknown: look, then try again
        (S.REMOVING, S.REMOVED),
    }
)


def allowed(src: PostStatus, dst: PostStatus) -> bool:
    """Whether a post may move from `src` to `dst`."""
    return (src, dst) in TRANSITIONS


def sources_of(dst: PostStatus) -> frozenset[PostStatus]:
    """Every state a post may reach `dst` from."""
    return frozenset(src for src, to in TRANSITIONS if to == dst)


class Phase(enum.StrEnum):
    """Where in an attempt the error happened."""

    CREATE = "create"  # the call that creates the post (Graph /feed, /photos; Zalo create)
    VERIFY = "verify"  # after the service handed back a handle (Zalo's processing token)
    RECONCILE = "reconcile"  # looking for what an earlier attempt did


class Next(enum.StrEnum):
    """What the publisher does after an error."""

    RETRY_LATER = "retry_later"  # nothing went out: back to approved, after a backoff
    THROTTLE = "throttle"  # nothing went out: back to approved, channel waits retry_after
    BLOCK_CHANNEL = "block_channel"  # nothing went out: channel paused for long, admins told
    RECONCILE = "reconcile"  # unknown outcome: stay publishing, look on the platform
    LOOK_AGAIN = "look_again"  # the look itself failed: look again later (or ask a human)
    PAUSE_CHANNEL = "pause_channel"  # credentials: channel needs a human, post keeps its place
    FAIL = "fail"  # refused for good: failed
    ASK_HUMAN = "ask_human"  # only a human can tell what happened: needs_human


@dataclass(frozen=True, slots=True)
class Outcome:
    """The publisher's move for one error: the next step and the error class recorded."""

    next: Next
    error_class: str


def outcome_for(error: PublishError, phase: Phase) -> Outcome:
    """Map a channel error to the next step. Channels classify what their service said
    (an `AmbiguousError` whenever a create may have gone through); this table decides."""
    if isinstance(error, CredentialsError):
        return Outcome(Next.PAUSE_CHANNEL, "credentials")
    if phase is Phase.CREATE:
        if isinstance(error, ChannelBlockedError):
            if error.duplicate:
                return Outcome(Next.RECONCILE, "duplicate")
            return Outcome(Next.BLOCK_CHANNEL, "blocked")
        if isinstance(error, AmbiguousError):
            return Outcome(Next.RECONCILE, "duplicate" if error.duplicate else "ambiguous")
        if isinstance(error, ThrottledError):
            return Outcome(Next.THROTTLE, "throttled")
        if isinstance(error, TemporaryError):
            return Outcome(Next.RETRY_LATER, "temporary")
        if isinstance(error, PermanentError):
            return Outcome(Next.FAIL, "permanent")
        return Outcome(Next.RECONCILE, "ambiguous")  # an unknown class: never re-send blindly
    if phase is Phase.VERIFY:
        # Something was created and we hold its handle: never a second create. A refusal to
        # verify is for a human to look at; anything passing is looked at again later.
        if isinstance(error, PermanentError):
            return Outcome(Next.ASK_HUMAN, "unverified")
        return Outcome(Next.RECONCILE, "unverified")
    if isinstance(error, PermanentError):
        return Outcome(Next.ASK_HUMAN, "unresolved")
    return Outcome(Next.LOOK_AGAIN, "ambiguous")
