"""The outbox: posts per (article, channel), their decisions, claims and outcomes.

Every state change is a compare-and-set from an expected status inside one transaction that
also appends its audit row, so a double tap, two daemons or a crash cannot publish twice. The
states and the moves allowed between them are `syndicator.publishing.lifecycle`; a move it does
not allow is refused here (`StorageError`), whoever asks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select, text, update

from syndicator.errors import StorageError
from syndicator.publishing.lifecycle import OPEN, EventKind, allowed
from syndicator.storage.base import StorageBase
from syndicator.storage.models import PostRow
from syndicator.types import Post, PostStatus, PublishResult

S = PostStatus
E = EventKind


@dataclass(frozen=True, slots=True)
class PostRecord:
    """A stored post with its history fields."""

    id: int
    article_id: int
    channel: str
    status: PostStatus
    payload: dict[str, Any]
    payload_hash: str
    preview_text: str
    marker: str
    edited: bool
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    scheduled_for: datetime | None
    attempts: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    reconcile_checks: int
    last_error: str | None
    error_class: str | None
    handle: dict[str, Any] | None
    external_id: str | None
    permalink: str | None
    published_at: datetime | None

    @property
    def post(self) -> Post:
        return Post(
            channel=self.channel, article_id=self.article_id, payload=self.payload,
            preview_text=self.preview_text, marker=self.marker, id=self.id, status=self.status,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PostPlan:
    """A rendered post to create (or re-render while it still waits) for an article."""

    post: Post
    status: PostStatus
    decided_by: str | None = None  # "rule" when an auto-approve rule matched


def canonical_payload(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_payload(payload).encode("utf-8")).hexdigest()


class PostsMixin(StorageBase):
    # -- decisions --------------------------------------------------------------------------

    def decide(
        self,
        post_ids: Iterable[int],
        to: PostStatus,
        *,
        actor: str,
        now: datetime,
        reason: str | None = None,
        scheduled_for: datetime | None = None,
        allowed_from: Iterable[PostStatus] = OPEN,
        data: Mapping[str, Any] | None = None,
        seen: Mapping[int, str] | None = None,
    ) -> list[PostRecord]:
        """Move posts still in `allowed_from` to `to`; return only those that moved.

        With `seen` (post id -> the payload hash the person was shown), a post moves only while
        its payload is still that one: the compare-and-set covers what was seen, so a re-render
        between a look and a tap cannot slip through."""
        sources = [src for src in allowed_from if allowed(src, to)]
        if not sources:
            raise StorageError(f"no post may move from {sorted(allowed_from)} to {to.value}")
        moved: list[PostRecord] = []
        with self._write() as session:
            events = []
            for post_id in post_ids:
                values: dict[str, Any] = {
                    "status": to.value, "updated_at": now, "decided_at": now, "decided_by": actor,
                }  # fmt: skip
                if reason is not None:
                    values["reason"] = reason
                if to == S.SCHEDULED:
                    values["scheduled_for"] = scheduled_for
                if to in (S.APPROVED, S.SCHEDULED):
                    values["next_attempt_at"] = scheduled_for
                query = (
                    update(PostRow)
                    .where(PostRow.id == post_id)
                    .where(PostRow.status.in_([s.value for s in sources]))
                )
                if seen is not None:
                    query = query.where(PostRow.payload_hash == seen.get(post_id, ""))
                result = session.execute(query.values(**values))
                if not result.rowcount:  # type: ignore[attr-defined]
                    continue
                row = session.get(PostRow, post_id)
                assert row is not None
                session.refresh(row)
                moved.append(_record(row))
                events.append((E.decision(to), actor, f"post:{post_id}", {
                    "article": row.article_id, "channel": row.channel, "reason": reason,
                    "scheduled_for": scheduled_for, "payload_hash": row.payload_hash,
                    **(data or {}),
                }))  # fmt: skip
            self._audit_many(session, events, now)
            if moved and to == S.APPROVED and session.get_bind().dialect.name == "postgresql":
                # Wakes every daemon's publisher (syndicator/decision_watch.py); delivered at
                # commit, never for a rolled-back decision (PostgreSQL docs, NOTIFY).
                session.execute(text("SELECT pg_notify('syndicator_decision', '')"))
        return moved

    def edit_post(
        self,
        post_id: int,
        post: Post,
        *,
        actor: str,
        now: datetime,
        expected_hash: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> PostRecord | None:
        """Replace a waiting post's payload with an edited one (the editor's exact text), if it
        is still the one the editor was shown (`expected_hash`; None = not checked)."""
        with self._write() as session:
            row = session.get(PostRow, post_id)
            if row is None or row.status not in [s.value for s in OPEN]:
                return None
            if expected_hash is not None and row.payload_hash != expected_hash:
                return None
            old = row.payload_hash
            row.payload, row.payload_hash = (
                canonical_payload(post.payload),
                payload_hash(post.payload),
            )
            row.preview_text, row.marker, row.edited, row.updated_at = (
                post.preview_text,
                post.marker,
                True,
                now,
            )
            self._audit(
                session,
                E.EDITED,
                actor=actor,
                subject=f"post:{post_id}",
                data={
                    "article": row.article_id,
                    "channel": row.channel,
                    "old_hash": old,
                    "new_hash": row.payload_hash,
                    **(data or {}),
                },
                now=now,
            )
            return _record(row)

    # -- the publisher's verbs ----------------------------------------------------------------

    def claim_post(self, channel: str, now: datetime) -> PostRecord | None:
        """Take the oldest due approved post of `channel`; commit the publishing intent."""
        from syndicator.storage.drain import sendable_due  # it builds on this module

        with self._write() as session:
            row = session.scalars(
                select(PostRow)
                .where(*sendable_due(channel, now))
                .order_by(func.coalesce(PostRow.scheduled_for, PostRow.decided_at), PostRow.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            return self._start_attempt(session, row, now)

    def restart_attempt(self, post_id: int, now: datetime) -> PostRecord | None:
        """A reconciled-absent post is sent again: a new attempt, intent committed first."""
        with self._write() as session:
            row = session.get(PostRow, post_id)
            if row is None or row.status != S.PUBLISHING.value:
                return None
            return self._start_attempt(session, row, now)

    def _start_attempt(self, session: Any, row: PostRow, now: datetime) -> PostRecord:
        # The handle (Zalo's processing token) is kept: once the service handed one out,
        # every later attempt resolves through it and never creates a second article.
        row.status, row.attempts, row.last_attempt_at = S.PUBLISHING.value, row.attempts + 1, now
        row.updated_at, row.next_attempt_at, row.reconcile_checks = now, None, 0
        self._audit(
            session,
            E.ATTEMPT,
            actor="publisher",
            subject=f"post:{row.id}",
            data={
                "channel": row.channel,
                "attempt": row.attempts,
                "payload_hash": row.payload_hash,
            },
            now=now,
        )
        return _record(row)

    def save_handle(self, post_id: int, handle: dict[str, Any], now: datetime) -> None:
        """Commit a vendor handle (Zalo's processing token) before any further call."""
        with self._write() as session:
            row = session.get(PostRow, post_id)
            if row is not None:
                row.handle, row.updated_at = json.dumps(handle, ensure_ascii=False), now

    def record_published(
        self, post_id: int, result: PublishResult, now: datetime, *, how: str = "published"
    ) -> PostRecord | None:
        """The external id, permalink and audit event, together (from `publishing` only;
        a post already published is returned as it is, anything else is left alone)."""
        with self._write() as session:
            row = session.get(PostRow, post_id)
            if row is None or row.status != S.PUBLISHING.value:
                return _record(row) if row and row.status == S.PUBLISHED.value else None
            row.status, row.external_id, row.permalink = (
                S.PUBLISHED.value,
                result.external_id,
                result.permalink,
            )
            row.published_at, row.updated_at, row.next_attempt_at = now, now, None
            row.last_error = row.error_class = None
            self._audit(
                session,
                E.PUBLISHED,
                actor="publisher",
                subject=f"post:{post_id}",
                data={
                    "channel": row.channel,
                    "article": row.article_id,
                    "external_id": result.external_id,
                    "permalink": result.permalink,
                    "attempts": row.attempts,
                    "via": how,
                    "payload_hash": row.payload_hash,
                },
                now=now,
            )
            return _record(row)

    def record_outcome(
        self,
        post_id: int,
        *,
        status: PostStatus,
        now: datetime,
        error: str | None,
        error_class: str,
        next_attempt_at: datetime | None = None,
        reconcile_checks: int | None = None,
        event: EventKind | None = None,
        expected: PostStatus = S.PUBLISHING,
        data: dict[str, Any] | None = None,
    ) -> PostRecord | None:
        """A failed, retried, waiting-to-reconcile or needs-human outcome of an attempt.

        Compare-and-set: nothing changes (None) unless the post is still in `expected`, so a
        late answer cannot overwrite what another instance or an admin did meanwhile."""
        if not allowed(expected, status):
            raise StorageError(f"a post may not move from {expected.value} to {status.value}")
        with self._write() as session:
            row = session.get(PostRow, post_id)
            if row is None or row.status != expected.value:
                return None
            row.status, row.last_error, row.error_class = status.value, error, error_class
            row.next_attempt_at, row.updated_at = next_attempt_at, now
            if reconcile_checks is not None:
                row.reconcile_checks = reconcile_checks
            if event:
                self._audit(
                    session,
                    event,
                    actor="publisher",
                    subject=f"post:{post_id}",
                    data={
                        "channel": row.channel,
                        "article": row.article_id,
                        "error": error,
                        "class": error_class,
                        "next_attempt_at": next_attempt_at,
                        "attempts": row.attempts,
                        **(data or {}),
                    },
                    now=now,
                )
            return _record(row)

    # -- reading ------------------------------------------------------------------------------

    def get_post(self, post_id: int) -> PostRecord | None:
        with self._read() as session:
            row = session.get(PostRow, post_id)
            return _record(row) if row else None

    def list_posts(
        self,
        *,
        status: Sequence[PostStatus] | None = None,
        channel: str | None = None,
        article_id: int | None = None,
        article_ids: Sequence[int] | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[PostRecord]:
        query = select(PostRow).order_by(PostRow.id)
        if article_ids is not None:
            query = query.where(PostRow.article_id.in_(list(article_ids)))
        if status:
            query = query.where(PostRow.status.in_([s.value for s in status]))
        if channel:
            query = query.where(PostRow.channel == channel)
        if article_id is not None:
            query = query.where(PostRow.article_id == article_id)
        if since is not None:
            query = query.where(PostRow.created_at >= since)
        if limit:
            query = query.limit(limit)
        with self._read() as session:
            return [_record(row) for row in session.scalars(query)]

    def due_reconciliations(self, now: datetime) -> list[PostRecord]:
        """Posts left in publishing whose outcome must be found before anything else is sent."""
        query = (
            select(PostRow)
            .where(PostRow.status == S.PUBLISHING.value)
            .where(or_(PostRow.next_attempt_at.is_(None), PostRow.next_attempt_at <= now))
            .order_by(PostRow.id)
        )
        with self._read() as session:
            return [_record(row) for row in session.scalars(query)]

    def publishing_counts(self, channel: str, since: datetime) -> tuple[int, datetime | None]:
        """Posts published on `channel` since `since`, and the time of the latest one ever."""
        mine, since_then = PostRow.channel == channel, PostRow.published_at >= since
        with self._read() as session:
            count = session.scalar(select(func.count(PostRow.id)).where(mine, since_then))
            last = session.scalar(select(func.max(PostRow.published_at)).where(mine))
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        return int(count or 0), last

    def post_counts(self) -> dict[tuple[str, str], int]:
        query = select(PostRow.channel, PostRow.status, func.count(PostRow.id))
        with self._read() as session:
            rows = session.execute(query.group_by(PostRow.channel, PostRow.status))
            return {(c, s): int(n) for c, s, n in rows}


def _record(row: PostRow) -> PostRecord:
    return PostRecord(
        id=row.id, article_id=row.article_id, channel=row.channel, status=PostStatus(row.status),
        payload=json.loads(row.payload), payload_hash=row.payload_hash,
        preview_text=row.preview_text, marker=row.marker, edited=bool(row.edited),
        created_at=row.created_at, updated_at=row.updated_at, decided_at=row.decided_at,
        decided_by=row.decided_by, reason=row.reason, scheduled_for=row.scheduled_for,
        attempts=row.attempts, last_attempt_at=row.last_attempt_at,
        next_attempt_at=row.next_attempt_at, reconcile_checks=row.reconcile_checks,
        last_error=row.last_error, error_class=row.error_class,
        handle=json.loads(row.handle) if row.handle else None, external_id=row.external_id,
        permalink=row.permalink, published_at=row.published_at,
    )  # fmt: skip
