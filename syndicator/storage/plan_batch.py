"""Planning many articles at once: one read, one write transaction, one audit append.

`Publisher.plan` used to spend ~11 ms per article (an ORM get, a select of its posts, an
audit row and a commit each): a third of the daemon's CPU in steady state, and the limit of a
first poll (issue 11). These functions do the same work for a whole batch with Core
statements; `PlanningMixin.articles_for_planning` and `PlanningMixin.save_plans_many` call them
inside their transactions. They produce exactly the posts and audit events that
`PlanningMixin.save_plans` would, article after article (tests/storage/test_plan_batch.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from syndicator.publishing.lifecycle import OPEN, SENDABLE, EventKind
from syndicator.storage.base import Event
from syndicator.storage.models import ArticleRow, PostRow, article_of
from syndicator.storage.posts import canonical_payload, payload_hash
from syndicator.types import Article

_A = cast(Table, ArticleRow.__table__)
_P = cast(Table, PostRow.__table__)
E = EventKind
_OPEN = {s.value for s in OPEN}
# Publisher.plan_one: an article's post plans (storage.PostPlan) or none with the reason.
PlanHook = Callable[[Article, datetime], tuple[Sequence[Any], str | None]]

_INSERT = insert(_P).returning(_P.c.id, sort_by_parameter_order=True)
_RERENDER = (
    update(_P)
    .where(_P.c.id == bindparam("b_id"))
    .values(
        payload=bindparam("b_payload"),
        payload_hash=bindparam("b_hash"),
        preview_text=bindparam("b_preview"),
        marker=bindparam("b_marker"),
        updated_at=bindparam("b_now"),
    )
)
_MARK_PLANNED = (
    update(_A)
    .where(_A.c.id.in_(bindparam("ids", expanding=True)))
    .values(planned_version=_A.c.version)
)


def read_articles(conn: Connection, limit: int) -> list[tuple[Article, str | None]]:
    """Originals waiting to be planned, oldest first, each with the lead image of another copy
    (a duplicate from another source) when the original has none."""
    rows = conn.execute(
        select(_A)
        .where(_A.c.duplicate_of.is_(None), _A.c.planned_version < _A.c.version)
        .order_by(_A.c.id)
        .limit(limit)
    ).all()
    articles = [article_of(cast(ArticleRow, row)) for row in rows]
    bare = [a.id for a in articles if a.image_url is None]
    images: dict[int, str] = {}
    if bare:
        copies = conn.execute(
            select(_A.c.duplicate_of, _A.c.image_url)
            .where(_A.c.duplicate_of.in_(bare), _A.c.image_url.is_not(None))
            .order_by(_A.c.id)
        )
        for original, image in copies:
            images.setdefault(original, image)  # the first copy's, as copy_image() picks
    return [(a, images.get(a.id) if a.id is not None else None) for a in articles]


def write_plans(
    conn: Connection,
    batch: Sequence[tuple[int, Sequence[Any], str | None]],
    now: datetime,
    *,
    fresh: bool = False,
    nows: dict[int, datetime] | None = None,
) -> tuple[list[tuple[int, str]], list[Event]]:
    """Insert new posts, re-render waiting ones, mark the articles planned.

    Returns the (article, channel) of every post touched, in plan order, and the audit
    events in the order one-by-one saving would append them. `fresh`: the articles were
    inserted by this transaction (plan_fresh), already marked planned: present, with no
    posts, unread.
    """
    ids = [article_id for article_id, _, _ in batch]
    present = (
        set(ids)
        if fresh
        else {row[0] for row in conn.execute(select(_A.c.id).where(_A.c.id.in_(ids)))}
    )  # an article deleted meanwhile is skipped, as save_plans does
    existing = {} if fresh else {
        (row.article_id, row.channel): row
        for row in conn.execute(
            select(_P.c.id, _P.c.article_id, _P.c.channel, _P.c.status, _P.c.edited,
                   _P.c.payload).where(_P.c.article_id.in_(ids))
        )
    }  # fmt: skip
    # First pass: what each plan does; new rows are inserted together to learn their ids.
    steps: list[tuple[str, int, Any, dict[str, Any]]] = []  # (what, article, plan, values)
    inserts: list[dict[str, Any]] = []
    rerenders: list[dict[str, Any]] = []
    touched: list[tuple[int, str]] = []
    for article_id, plans, _reason in batch:
        if article_id not in present:
            continue
        at = nows.get(article_id, now) if nows else now  # its feed's time (write_fresh_many)
        for plan in plans:
            key = (article_id, plan.post.channel)
            body = canonical_payload(plan.post.payload)
            row = existing.get(key)
            touched.append(key)
            if row is None:
                values = {
                    "article_id": article_id, "channel": plan.post.channel,
                    "status": plan.status.value, "payload": body,
                    "payload_hash": payload_hash(plan.post.payload),
                    "preview_text": plan.post.preview_text, "marker": plan.post.marker,
                    "created_at": at, "updated_at": at, "attempts": 0, "reconcile_checks": 0,
                    "edited": False,
                    "decided_at": at if plan.decided_by else None,
                    "decided_by": plan.decided_by or None,
                }  # fmt: skip
                inserts.append(values)
                steps.append(("created", article_id, plan, values))
            elif row.status in _OPEN and not row.edited and row.payload != body:
                hash_ = payload_hash(plan.post.payload)
                rerenders.append({
                    "b_id": row.id, "b_payload": body, "b_hash": hash_,
                    "b_preview": plan.post.preview_text, "b_marker": plan.post.marker,
                    "b_now": now,
                })  # fmt: skip
                steps.append(("rerendered", article_id, plan, {"id": row.id, "hash": hash_}))
    new_ids = conn.execute(_INSERT, inserts).scalars().all() if inserts else []
    for values, id_ in zip(inserts, new_ids, strict=True):
        values["id"] = id_
    if rerenders:
        conn.execute(_RERENDER, rerenders)
    # Second pass: the audit events, article by article, as save_plans appends them.
    events: list[Event] = []
    by_article: dict[int, list[Event]] = {}
    for what, article_id, plan, values in steps:
        if what == "created":
            event: Event = (E.CREATED, "planner", f"post:{values['id']}", {
                "article": article_id, "channel": values["channel"], "status": values["status"],
                "payload_hash": values["payload_hash"], "decided_by": plan.decided_by,
            })  # fmt: skip
        else:
            event = (E.RERENDERED, "planner", f"post:{values['id']}", {
                "article": article_id, "payload_hash": values["hash"],
            })  # fmt: skip
        by_article.setdefault(article_id, []).append(event)
    for article_id, _plans, reason in batch:
        if article_id not in present:
            continue
        events += by_article.get(article_id, [])
        if reason:
            events.append((E.NOT_PLANNED, "planner", f"article:{article_id}", {"reason": reason}))
    planned = [i for i in ids if i in present]
    if planned and not fresh:  # fresh ones were inserted planned (add_articles)
        conn.execute(_MARK_PLANNED, {"ids": planned})
    return touched, events


def plan_fresh(
    conn: Connection, articles: Sequence[Article], now: datetime, plan: PlanHook
) -> tuple[list[Event], bool]:
    """Plan articles that this very transaction inserted (add_articles(plan=...)): the posts
    and audit events Publisher.plan would make of them at its next turn, without reading
    them back or opening a transaction of their own (issue 11: that read and that write were
    a sixth of a changed feed's cost). They have no posts and no copies yet; an original
    whose copy in the same batch brings an image is left to Publisher.plan by the caller.
    Returns the events and whether a post came out ready to go (auto-approved)."""
    if not articles:
        return [], False
    batch, sendable = render_fresh(articles, now, plan)
    _touched, events = write_plans(conn, batch, now, fresh=True)
    return events, sendable


def render_fresh(
    articles: Sequence[Article], now: datetime, plan: PlanHook
) -> tuple[list[tuple[int, Sequence[Any], str | None]], bool]:
    """plan_fresh's first half: each article's plans (rendered), and whether a post came out
    ready to go; write_fresh_many writes them."""
    batch = [(cast(int, a.id), *plan(a, now)) for a in articles]
    return batch, any(p.status in SENDABLE for _, plans, _ in batch for p in plans)


def write_fresh_many(
    conn: Connection,
    batches: Sequence[tuple[Sequence[tuple[int, Sequence[Any], str | None]], datetime]],
) -> list[list[Event]]:
    """The second half for the feeds of one ingest batch at once (storage/lookups.py): their
    posts in one INSERT, in the order feed by feed would insert them (so the same ids), each
    with its feed's time; the audit events handed back per feed, in plan_fresh's order."""
    everything = [entry for batch, _ in batches for entry in batch]
    if not everything:
        return [[] for _ in batches]
    nows = {entry[0]: at for batch, at in batches for entry in batch}
    _touched, events = write_plans(conn, everything, batches[0][1], fresh=True, nows=nows)
    owner = {entry[0]: n for n, (batch, _) in enumerate(batches) for entry in batch}
    split: list[list[Event]] = [[] for _ in batches]
    for event in events:  # each names its article: a created post's data, or the subject
        kind, _actor, subject, data = event
        article = (data or {}).get("article") if kind != E.NOT_PLANNED else None
        if article is None:
            article = int(str(subject).removeprefix("article:"))
        split[owner[int(article)]].append(event)
    return split


def read_posts(conn: Connection, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], Any]:
    """The stored rows of these (article, channel) posts."""
    if not keys:
        return {}
    articles = sorted({article_id for article_id, _ in keys})
    wanted = set(keys)
    return {
        (row.article_id, row.channel): row
        for row in conn.execute(select(_P).where(_P.c.article_id.in_(articles)))
        if (row.article_id, row.channel) in wanted
    }
