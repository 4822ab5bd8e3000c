"""The Telegram approval workspace's own state: preview messages, forced-reply prompts, values.

Everything the bot needs after a restart lives here, so old buttons and unanswered prompts keep
working and nothing is sent twice. Decisions themselves stay in the posts table (PostsMixin).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import aliased

from syndicator.audit import AuditEvent
from syndicator.storage.base import AUDIT_COLUMNS, StorageBase, put_value
from syndicator.storage.models import (
    ApprovalMessageRow,
    ApprovalPromptRow,
    ApprovalValueRow,
    ArticleRow,
    AuditRow,
    PostRow,
)
from syndicator.types import PostStatus

OPEN_STATUSES = (PostStatus.PENDING.value, PostStatus.HELD.value)


@dataclass(frozen=True, slots=True)
class PreviewMessage:
    """One preview message in a staff chat."""

    id: int
    article_id: int
    chat_id: int
    message_id: int
    has_photo: bool
    state: str  # open | closed
    sent_at: datetime
    reminded_at: datetime | None


@dataclass(frozen=True, slots=True)
class Prompt:
    """A forced-reply question waiting for one person's answer."""

    id: int
    chat_id: int
    message_id: int
    user_id: int
    action: str  # edit | schedule | reject
    article_id: int
    post_id: int | None
    state: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PostState:
    """What the reminder pass needs of a post, read every tick without its payload."""

    id: int
    article_id: int
    status: PostStatus
    created_at: datetime


class ApprovalMixin(StorageBase):
    # -- previews -----------------------------------------------------------------------------

    def articles_needing_preview(self, limit: int = 100) -> list[int]:
        """Articles with a post waiting for a human and no preview message yet, oldest first."""
        has_preview = exists().where(ApprovalMessageRow.article_id == PostRow.article_id)
        query = (
            select(PostRow.article_id)
            .where(PostRow.status.in_(OPEN_STATUSES))
            .where(~has_preview)
            .group_by(PostRow.article_id)
            .order_by(PostRow.article_id)
            .limit(limit)
        )
        with self._read() as session:
            return list(session.scalars(query))

    def record_preview(
        self, article_id: int, chat_id: int, message_id: int, *, has_photo: bool, now: datetime
    ) -> PreviewMessage:
        """Remember a sent preview (committed when this returns)."""
        with self._write() as session:
            row = ApprovalMessageRow(
                article_id=article_id, chat_id=chat_id, message_id=message_id,
                has_photo=has_photo, state="open", sent_at=now, updated_at=now,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return _preview(row)

    def previews_of(self, article_id: int) -> list[PreviewMessage]:
        query = select(ApprovalMessageRow).where(ApprovalMessageRow.article_id == article_id)
        with self._read() as session:
            return [_preview(row) for row in session.scalars(query.order_by(ApprovalMessageRow.id))]

    def find_preview(self, chat_id: int, message_id: int) -> PreviewMessage | None:
        query = select(ApprovalMessageRow).where(
            ApprovalMessageRow.chat_id == chat_id, ApprovalMessageRow.message_id == message_id
        )
        with self._read() as session:
            row = session.scalars(query).first()
            return _preview(row) if row else None

    def open_previews(self) -> list[PreviewMessage]:
        query = select(ApprovalMessageRow).where(ApprovalMessageRow.state == "open")
        with self._read() as session:
            return [_preview(row) for row in session.scalars(query.order_by(ApprovalMessageRow.id))]

    def post_states(self, article_ids: Sequence[int]) -> list[PostState]:
        """Id, status and creation time of every post of these articles, in id order: the
        reminder pass asks this each tick for every open preview; whole posts (payload and
        preview text decoded) were most of its cost with a few hundred waiting (issue 11)."""
        if not article_ids:
            return []
        query = (
            select(PostRow.id, PostRow.article_id, PostRow.status, PostRow.created_at)
            .where(PostRow.article_id.in_(list(article_ids)))
            .order_by(PostRow.id)
        )
        with self._read() as session:
            return [
                PostState(pid, aid, PostStatus(status), created)
                for pid, aid, status, created in session.execute(query)
            ]

    def set_preview_state(self, article_id: int, state: str, now: datetime) -> int:
        """Open or close every preview of an article; return how many changed."""
        with self._write() as session:
            result = session.execute(
                update(ApprovalMessageRow)
                .where(ApprovalMessageRow.article_id == article_id)
                .where(ApprovalMessageRow.state != state)
                .values(state=state, updated_at=now)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def mark_reminded(self, preview_id: int, now: datetime) -> bool:
        """Claim the one reminder of a preview; False when it was already sent."""
        with self._write() as session:
            result = session.execute(
                update(ApprovalMessageRow)
                .where(ApprovalMessageRow.id == preview_id)
                .where(ApprovalMessageRow.reminded_at.is_(None))
                .values(reminded_at=now, updated_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def article_version(self, article_id: int) -> int:
        """How many contents the article has had (1 = unchanged since first seen)."""
        with self._read() as session:
            version = session.scalar(select(ArticleRow.version).where(ArticleRow.id == article_id))
            return int(version or 1)

    def duplicates_of(self, article_id: int) -> list[tuple[int, str]]:
        """(id, agency) of articles stored as duplicates of this one (other sources)."""
        query = select(ArticleRow.id, ArticleRow.agency).where(
            ArticleRow.duplicate_of == article_id
        )
        with self._read() as session:
            return [(int(i), str(a)) for i, a in session.execute(query.order_by(ArticleRow.id))]

    # -- prompts ------------------------------------------------------------------------------

    def add_prompt(
        self, chat_id: int, message_id: int, *, user_id: int, action: str, article_id: int,
        post_id: int | None, now: datetime,
    ) -> Prompt:  # fmt: skip
        with self._write() as session:
            row = ApprovalPromptRow(
                chat_id=chat_id, message_id=message_id, user_id=user_id, action=action,
                article_id=article_id, post_id=post_id, state="open", created_at=now,
                updated_at=now,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return _prompt(row)

    def find_prompt(self, chat_id: int, message_id: int) -> Prompt | None:
        query = select(ApprovalPromptRow).where(
            ApprovalPromptRow.chat_id == chat_id, ApprovalPromptRow.message_id == message_id
        )
        with self._read() as session:
            row = session.scalars(query).first()
            return _prompt(row) if row else None

    def close_prompt(self, prompt_id: int, now: datetime) -> bool:
        """Mark a prompt answered; False when someone (or a re-delivery) already did."""
        with self._write() as session:
            result = session.execute(
                update(ApprovalPromptRow)
                .where(ApprovalPromptRow.id == prompt_id, ApprovalPromptRow.state == "open")
                .values(state="done", updated_at=now)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def reopen_prompt(self, prompt_id: int, now: datetime) -> None:
        """Open a prompt again after an answer that could not be used (the person retries)."""
        with self._write() as session:
            session.execute(
                update(ApprovalPromptRow)
                .where(ApprovalPromptRow.id == prompt_id)
                .values(state="open", updated_at=now)
            )

    # -- the audit feed ---------------------------------------------------------------------

    def audit_events_after(
        self, after_id: int, limit: int = 500, *, skip: Sequence[str] = ()
    ) -> tuple[list[AuditEvent], int]:
        """Events with an id above `after_id`, in chain order, leaving out the kinds in `skip`
        (a kind ending in "." leaves out every kind it begins); and the id up to which every
        event was looked at (the cursor's next value). The alert cursor reads this every bot
        tick: plain rows rather than ORM objects, and the bulk of the trail (an `article.new`
        per new article) is never read at all."""
        with self._read() as session:
            # The bound first: on PostgreSQL each statement sees new commits, and an event
            # committed between the two reads must not be passed over.
            upto = int(session.scalar(select(func.max(AuditRow.id))) or after_id)
            query = select(*AUDIT_COLUMNS).where(AuditRow.id > after_id, AuditRow.id <= upto)
            for kind in skip:
                if kind.endswith("."):
                    query = query.where(~AuditRow.kind.startswith(kind, autoescape=True))
                else:
                    query = query.where(AuditRow.kind != kind)
            rows = session.execute(query.order_by(AuditRow.id).limit(limit)).all()
        events = [AuditEvent(*row) for row in rows]
        if len(events) == limit:
            upto = events[-1].id
        return events, max(upto, after_id)

    def last_audit_id(self) -> int:
        with self._read() as session:
            return int(session.scalar(select(func.max(AuditRow.id))) or 0)

    # -- values -------------------------------------------------------------------------------

    def get_values(self, keys: Sequence[str]) -> dict[str, str]:
        """Many `get_value`s in one query (absent keys are left out)."""
        if not keys:
            return {}
        query = select(ApprovalValueRow.key, ApprovalValueRow.value).where(
            ApprovalValueRow.key.in_(list(keys))
        )
        with self._read() as session:
            return {key: value for key, value in session.execute(query)}

    def expired_article_ids(self, cutoff: datetime, limit: int = 1000) -> list[int]:
        """Articles with a post still waiting for a human whose first post (of any status) was
        created at or before `cutoff`: what expiry must close (`expiry.is_expired`). One query,
        instead of listing every waiting article's posts each expiry tick (a first poll can
        leave thousands waiting)."""
        waiting = aliased(PostRow)
        first = (
            select(func.min(PostRow.created_at))
            .where(PostRow.article_id == waiting.article_id)
            .scalar_subquery()
        )
        query = (
            select(waiting.article_id)
            .where(waiting.status.in_(OPEN_STATUSES))
            .group_by(waiting.article_id)
            # The waiting posts' own first creation decides most cases without the lookup.
            .having(or_(func.min(waiting.created_at) <= cutoff, func.min(first) <= cutoff))
            .order_by(waiting.article_id)
            .limit(limit)
        )
        with self._read() as session:
            return list(session.scalars(query))

    def get_value(self, key: str) -> str | None:
        with self._read() as session:
            row = session.get(ApprovalValueRow, key)
            return row.value if row else None

    def set_value(self, key: str, value: str, now: datetime) -> None:
        with self._write() as session:
            put_value(session, key, value, now)

    def delete_values(self, keys: Sequence[str]) -> None:
        with self._write() as session:
            for key in keys:
                row = session.get(ApprovalValueRow, key)
                if row is not None:
                    session.delete(row)


def _preview(row: ApprovalMessageRow) -> PreviewMessage:
    return PreviewMessage(
        row.id, row.article_id, row.chat_id, row.message_id, bool(row.has_photo), row.state,
        row.sent_at, row.reminded_at,
    )  # fmt: skip


def _prompt(row: ApprovalPromptRow) -> Prompt:
    return Prompt(
        row.id, row.chat_id, row.message_id, row.user_id, row.action, row.article_id,
        row.post_id, row.state, row.created_at,
    )  # fmt: skip
