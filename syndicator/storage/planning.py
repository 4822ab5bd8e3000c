"""Planning: the posts an article needs, created or re-rendered in the outbox.

The planner (publishing/publisher.py) asks which originals have no posts for their current
version, renders them, and saves the plans here: one article at a time (`save_plans`), or many
per transaction (`save_plans_many`, storage/plan_batch.py) when a first poll brings thousands.
Split from posts.py, which keeps the decisions, claims and outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from syndicator.errors import StorageError
from syndicator.publishing.lifecycle import OPEN, EventKind
from syndicator.storage import plan_batch
from syndicator.storage.base import Event, StorageBase
from syndicator.storage.models import ArticleRow, PostRow
from syndicator.storage.posts import PostPlan, PostRecord, _record, canonical_payload, payload_hash
from syndicator.types import Article, PostStatus

S = PostStatus
E = EventKind


class PlanningMixin(StorageBase):
    # -- planning --------------------------------------------------------------------------

    def articles_to_plan(self, limit: int = 200) -> list[int]:
        """Originals (not duplicates) whose posts are missing or older than their content."""
        query = (
            select(ArticleRow.id)
            .where(ArticleRow.duplicate_of.is_(None))
            .where(ArticleRow.planned_version < ArticleRow.version)
            .order_by(ArticleRow.id)
            .limit(limit)
        )
        with self._read() as session:
            return list(session.scalars(query))

    def copy_image(self, article_id: int) -> str | None:
        """The lead image of another copy of the article (a duplicate from another source),
        for an original that has none; the one-by-one form of what the planning batch reads."""
        query = (
            select(ArticleRow.image_url)
            .where(ArticleRow.duplicate_of == article_id)
            .where(ArticleRow.image_url.is_not(None))
            .order_by(ArticleRow.id)
            .limit(1)
        )
        with self._read() as session:
            return session.scalar(query)

    def save_plans(
        self,
        article_id: int,
        plans: Sequence[PostPlan],
        now: datetime,
        *,
        skipped_reason: str | None = None,
    ) -> list[PostRecord]:
        """Create the article's posts (or re-render those still waiting); mark it planned."""
        out: list[PostRecord] = []
        with self._write() as session:
            article = session.get(ArticleRow, article_id)
            if article is None:
                return out
            existing = {
                row.channel: row
                for row in session.scalars(select(PostRow).where(PostRow.article_id == article_id))
            }
            events: list[Event] = []
            for plan in plans:
                body = canonical_payload(plan.post.payload)
                row = existing.get(plan.post.channel)
                if row is None:
                    row = PostRow(
                        article_id=article_id, channel=plan.post.channel, status=plan.status.value,
                        payload=body, payload_hash=payload_hash(plan.post.payload),
                        preview_text=plan.post.preview_text, marker=plan.post.marker,
                        created_at=now, updated_at=now, attempts=0, reconcile_checks=0,
                        edited=False,
                    )  # fmt: skip
                    if plan.decided_by:
                        row.decided_at, row.decided_by = now, plan.decided_by
                    session.add(row)
                    session.flush()
                    events.append((E.CREATED, "planner", f"post:{row.id}", {
                        "article": article_id, "channel": row.channel, "status": row.status,
                        "payload_hash": row.payload_hash, "decided_by": plan.decided_by,
                    }))  # fmt: skip
                elif row.status in OPEN and not row.edited and row.payload != body:
                    row.payload, row.payload_hash = body, payload_hash(plan.post.payload)
                    row.preview_text, row.marker, row.updated_at = (
                        plan.post.preview_text,
                        plan.post.marker,
                        now,
                    )
                    events.append((E.RERENDERED, "planner", f"post:{row.id}", {
                        "article": article_id, "payload_hash": row.payload_hash,
                    }))  # fmt: skip
                out.append(_record(row))
            if skipped_reason:
                events.append(
                    (
                        E.NOT_PLANNED,
                        "planner",
                        f"article:{article_id}",
                        {"reason": skipped_reason},
                    )
                )
            article.planned_version = article.version
            self._audit_many(session, events, now)
        return out

    def articles_for_planning(self, limit: int = 500) -> list[tuple[Article, str | None]]:
        """The articles `articles_to_plan` names, read whole in one go, each with the lead
        image of another copy when it has none (see `storage/plan_batch.py`)."""
        try:
            with self._read_conn() as conn:
                return plan_batch.read_articles(conn, limit)
        except SQLAlchemyError as exc:
            raise StorageError(f"database read failed: {exc}") from exc

    def save_plans_many(
        self,
        batch: Sequence[tuple[int, Sequence[PostPlan], str | None]],
        now: datetime,
    ) -> list[PostRecord]:
        """`save_plans` for many (article id, plans, skipped reason) in one transaction: the
        same posts and the same audit events, in the same order, with multi-row statements
        and one audit append (storage/plan_batch.py)."""
        if not batch:
            return []
        with self._write_core() as conn:
            touched, events = plan_batch.write_plans(conn, batch, now)
            rows = plan_batch.read_posts(conn, touched)
            self._audit_many(conn, events, now)
        return [_record(rows[key]) for key in touched]
