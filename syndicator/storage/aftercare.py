"""After publication: the storage verbs of corrections and take-downs (publishing/aftercare.py).

A correction changes a live post's stored payload once the channel confirmed the edit; a
take-down commits its intent (published -> removing, who and why) before any delete call,
and is finished (removing -> removed) when the channel confirms the post is gone.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update

from syndicator.publishing.lifecycle import EventKind
from syndicator.storage.base import StorageBase
from syndicator.storage.models import PostRow
from syndicator.storage.posts import PostRecord, _record, canonical_payload, payload_hash
from syndicator.types import Post, PostStatus

S = PostStatus
E = EventKind


class AftercareMixin(StorageBase):
    def record_correction(
        self, post_id: int, post: Post, *, actor: str, now: datetime, via: str
    ) -> PostRecord | None:
        """The live post now carries `post`'s payload (the channel confirmed the edit)."""
        with self._write() as session:
            row = session.get(PostRow, post_id)
            if row is None or row.status != S.PUBLISHED.value:
                return None
            old = row.payload_hash
            row.payload, row.payload_hash = (
                canonical_payload(post.payload),
                payload_hash(post.payload),
            )
            row.preview_text, row.edited, row.updated_at = post.preview_text, True, now
            self._audit(
                session, E.CORRECTED, actor=actor, subject=f"post:{post_id}",
                data={"channel": row.channel, "article": row.article_id, "old_hash": old,
                      "new_hash": row.payload_hash, "external_id": row.external_id, "via": via},
                now=now,
            )  # fmt: skip
            return _record(row)

    def begin_takedown(
        self, post_id: int, *, actor: str, reason: str, now: datetime, via: str
    ) -> PostRecord | None:
        """Commit the intent to take a live post down (published -> removing), audited with
        who and why, before any call; None when the post is not live."""
        with self._write() as session:
            result = session.execute(
                update(PostRow)
                .where(PostRow.id == post_id, PostRow.status == S.PUBLISHED.value)
                .values(status=S.REMOVING.value, updated_at=now, reason=reason,
                        next_attempt_at=None, last_error=None, error_class=None)
            )  # fmt: skip
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
            row = session.get(PostRow, post_id)
            assert row is not None
            session.refresh(row)
            self._audit(
                session, E.TAKEDOWN, actor=actor, subject=f"post:{post_id}",
                data={"channel": row.channel, "article": row.article_id, "reason": reason,
                      "external_id": row.external_id, "via": via},
                now=now,
            )  # fmt: skip
            return _record(row)

    def finish_takedown(self, post_id: int, *, now: datetime, found: bool) -> PostRecord | None:
        """The channel confirmed the post is gone (`found` False: it was gone already)."""
        with self._write() as session:
            row = session.get(PostRow, post_id)
            if row is None or row.status != S.REMOVING.value:
                return None
            row.status, row.updated_at, row.next_attempt_at = S.REMOVED.value, now, None
            row.last_error = row.error_class = None
            self._audit(
                session, E.REMOVED, actor="publisher", subject=f"post:{post_id}",
                data={"channel": row.channel, "article": row.article_id,
                      "external_id": row.external_id, "already_gone": not found},
                now=now,
            )  # fmt: skip
            return _record(row)

    def due_removals(self, now: datetime) -> list[PostRecord]:
        """Take-downs whose delete call must be made (again)."""
        query = (
            select(PostRow)
            .where(PostRow.status == S.REMOVING.value)
            .where(or_(PostRow.next_attempt_at.is_(None), PostRow.next_attempt_at <= now))
            .order_by(PostRow.id)
        )
        with self._read() as session:
            return [_record(row) for row in session.scalars(query)]
