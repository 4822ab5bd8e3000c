"""The post lifecycle table: what each error means next, and which moves are allowed."""

from __future__ import annotations

import pytest

from syndicator.errors import (
    AmbiguousError,
    ChannelBlockedError,
    CredentialsError,
    PermanentError,
    PublishError,
    TemporaryError,
    ThrottledError,
)
from syndicator.publishing.lifecycle import (
    FINAL,
    OPEN,
    SENDABLE,
    TRANSITIONS,
    EventKind,
    Next,
    Phase,
    allowed,
    outcome_for,
)
from syndicator.types import PostStatus as S

C = "ch"
CASES: list[tuple[PublishError, Phase, Next, str]] = [
    (TemporaryError(C, "connect refused"), Phase.CREATE, Next.RETRY_LATER, "temporary"),
    (ThrottledError(C, "17", retry_after=60), Phase.CREATE, Next.THROTTLE, "throttled"),
    (AmbiguousError(C, "timeout"), Phase.CREATE, Next.RECONCILE, "ambiguous"),
    (AmbiguousError(C, "506", duplicate=True), Phase.CREATE, Next.RECONCILE, "duplicate"),
    (ChannelBlockedError(C, "368", retry_after=9), Phase.CREATE, Next.BLOCK_CHANNEL, "blocked"),
    (
        ChannelBlockedError(C, "368 dup", retry_after=9, duplicate=True),
        Phase.CREATE,
        Next.RECONCILE,
        "duplicate",
    ),
    (PermanentError(C, "100"), Phase.CREATE, Next.FAIL, "permanent"),
    (CredentialsError(C, "190"), Phase.CREATE, Next.PAUSE_CHANNEL, "credentials"),
    (CredentialsError(C, "-216"), Phase.VERIFY, Next.PAUSE_CHANNEL, "credentials"),
    (TemporaryError(C, "-214"), Phase.VERIFY, Next.RECONCILE, "unverified"),
    (PermanentError(C, "-210"), Phase.VERIFY, Next.ASK_HUMAN, "unverified"),
    (TemporaryError(C, "read 500"), Phase.RECONCILE, Next.LOOK_AGAIN, "ambiguous"),
    (PermanentError(C, "(#12)"), Phase.RECONCILE, Next.ASK_HUMAN, "unresolved"),
    (CredentialsError(C, "190"), Phase.RECONCILE, Next.PAUSE_CHANNEL, "credentials"),
]


@pytest.mark.parametrize(("error", "phase", "next_", "kind"), CASES)
def test_outcome_for(error: PublishError, phase: Phase, next_: Next, kind: str) -> None:
    """Each error class in each phase leads to exactly one documented next step."""
    outcome = outcome_for(error, phase)
    assert (outcome.next, outcome.error_class) == (next_, kind)


def test_no_create_error_after_a_handle_ever_means_send_again() -> None:
    """Once the service handed out a handle, no error leads to a fresh create."""
    errors = [TemporaryError(C, "x"), ThrottledError(C, "x"), AmbiguousError(C, "x"),
              PermanentError(C, "x"), CredentialsError(C, "x")]  # fmt: skip
    for error in errors:
        assert outcome_for(error, Phase.VERIFY).next not in (Next.RETRY_LATER, Next.THROTTLE)


def test_final_states_never_move_and_open_ones_reach_a_decision() -> None:
    """Published, rejected and expired are final; pending/held can be approved or rejected."""
    assert not any(src in FINAL for src, _ in TRANSITIONS)
    for src in OPEN:
        assert allowed(src, S.APPROVED) and allowed(src, S.REJECTED)
    for src in SENDABLE:
        assert allowed(src, S.PUBLISHING) and not allowed(src, S.PUBLISHED)
    assert not allowed(S.APPROVED, S.FAILED)  # only an attempt can fail


def test_every_decision_has_an_event_kind() -> None:
    """Each state a human or rule can decide has its audit event kind."""
    for state in (S.APPROVED, S.SCHEDULED, S.REJECTED, S.SKIPPED, S.EXPIRED, S.PENDING, S.HELD):
        assert EventKind.decision(state).value == f"post.{state.value}"


def test_storage_refuses_a_move_the_table_does_not_allow(storage) -> None:  # type: ignore[no-untyped-def]
    """record_outcome from approved straight to failed is refused by the table."""
    from datetime import UTC, datetime

    from syndicator.errors import StorageError

    with pytest.raises(StorageError):
        storage.record_outcome(
            1, status=S.FAILED, now=datetime.now(UTC), error="x", error_class="x",
            expected=S.APPROVED,
        )  # fmt: skip
