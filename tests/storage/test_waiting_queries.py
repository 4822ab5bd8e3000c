"""The bot's per-tick reads of waiting work, as single queries: which articles expiry must
close (`expired_article_ids`, the rule of `approval.expiry.is_expired`) and many stored values
at once (`get_values`). Both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from syndicator.approval.expiry import expire_due, is_expired
from syndicator.storage import PostPlan, Storage
from syndicator.storage.models import PostRow
from syndicator.types import Article, Post, PostStatus, PublishResult

S = PostStatus


def _article(i: int, now) -> Article:
    return Article(
        source_id="portal", guid=f"g{i}", url=f"https://portal.example.gov.vn/tin/{i}",
        canonical_url=f"https://portal.example.gov.vn/tin/{i}", title=f"Thông báo số {i}",
        summary="Tóm tắt.", content_html="<p>Nội dung.</p>", content_text="Nội dung.",
        image_url=None, published_at=now, agency="UBND tỉnh", categories=("tin_tuc",),
        content_hash=f"h{i}", fingerprint=f"f{i}",
    )  # fmt: skip


def _plan(channel: str, status: PostStatus) -> PostPlan:
    post = Post(channel=channel, article_id=None, payload={"message": channel}, preview_text="x",
                marker=channel)  # fmt: skip
    return PostPlan(replace(post), status)


def _articles(storage: Storage, now, n: int) -> list[int]:
    storage.sync_sources([("portal", "https://portal.example.gov.vn/rss")], now)
    result = storage.add_articles("portal", [_article(i, now) for i in range(n)], now)
    return sorted(a.id for a in result.new if a.id is not None)


def test_expired_articles_follow_the_first_post_of_any_status(storage: Storage, now) -> None:
    old, recent = now - timedelta(days=3), now - timedelta(hours=1)
    a, b, c, d = _articles(storage, now, 4)
    storage.save_plans(a, [_plan("facebook", S.PENDING)], old)  # waiting since long ago
    storage.save_plans(b, [_plan("facebook", S.SKIPPED)], old)  # an old post of another kind,
    storage.save_plans(b, [_plan("zalo", S.PENDING)], recent)  # then a recent waiting one
    storage.save_plans(c, [_plan("facebook", S.PENDING)], recent)  # waiting, not long
    storage.save_plans(d, [_plan("facebook", S.SKIPPED)], old)  # nothing waits for a human
    cutoff = now - timedelta(days=1)
    assert storage.expired_article_ids(cutoff) == [a, b]
    # The query and the pure rule agree on every article.
    for article_id in (a, b, c, d):
        posts = storage.list_posts(article_id=article_id)
        waiting = any(p.status in (S.PENDING, S.HELD) for p in posts)
        expected = waiting and is_expired(posts, timedelta(days=1), now)
        assert (article_id in storage.expired_article_ids(cutoff)) is expected
    assert expire_due(storage, timedelta(days=1), now) == [a, b]
    assert storage.expired_article_ids(cutoff) == []


def test_get_values_reads_many_at_once(storage: Storage, now) -> None:
    storage.set_value("k:1", "một", now)
    storage.set_value("k:2", "hai", now)
    assert storage.get_values(["k:1", "k:2", "k:3"]) == {"k:1": "một", "k:2": "hai"}
    assert storage.get_values([]) == {}


def test_the_alert_cursor_skips_quiet_kinds_and_still_moves_on(storage: Storage, now) -> None:
    def event(kind: str) -> int:
        return storage.record_event(kind, actor="t", subject="s", data={}, now=now).id

    start = event("source.unhealthy")
    quiet = [event("article.new"), event("post.created"), event("article.changed")]
    loud = event("post.failed")
    last = event("article.new")
    skip = ("article.", "post.created")
    events, upto = storage.audit_events_after(start, skip=skip)
    assert [e.id for e in events] == [loud] and upto == last
    assert all(q not in {e.id for e in events} for q in quiet)
    # With a limit, the cursor stops at the last event handed over, not past the unread ones.
    events, upto = storage.audit_events_after(start - 1, limit=1, skip=skip)
    assert [e.id for e in events] == [start] and upto == start
    assert storage.audit_events_after(last, skip=skip) == ([], last)


def test_drain_state_agrees_with_the_claim(storage: Storage, now) -> None:
    """The publisher's one read per channel and turn (storage/drain.py): `due` exactly when
    claim_post would take a post, `publishing` once one is claimed, the day's count after."""
    a, b = _articles(storage, now, 2)
    state = storage.drain_state("facebook", now, now - timedelta(hours=1))
    assert (state.due, state.publishing, state.published_today) == (False, False, 0)
    assert state.status.can_publish(now) and storage.claim_post("facebook", now) is None
    storage.save_plans(a, [_plan("facebook", S.APPROVED), _plan("zalo", S.PENDING)], now)
    storage.save_plans(b, [_plan("zalo", S.APPROVED)], now)
    assert storage.drain_state("facebook", now, now).due
    claimed = storage.claim_post("facebook", now)
    assert claimed is not None and claimed.article_id == a
    state = storage.drain_state("facebook", now, now)
    assert (state.due, state.publishing) == (False, True)
    assert storage.drain_state("zalo", now, now).due  # another channel's post is its own


def test_drain_state_reads_the_days_counts_when_a_post_is_due(storage: Storage, now) -> None:
    """Pacing needs the day's count and the last send only when a post may go: then both are
    read; with nothing due the read stops at the two questions asked in one statement."""
    a, b = _articles(storage, now, 2)
    storage.save_plans(a, [_plan("facebook", S.APPROVED)], now)
    claimed = storage.claim_post("facebook", now)
    assert claimed is not None
    storage.record_published(claimed.id, PublishResult("fb_1", "https://fb.example/1"), now)
    idle = storage.drain_state("facebook", now, now - timedelta(hours=1))
    assert (idle.due, idle.publishing, idle.published_today, idle.last_published_at) == (
        False, False, 0, None,
    )  # fmt: skip
    storage.save_plans(b, [_plan("facebook", S.APPROVED)], now)
    due = storage.drain_state("facebook", now, now - timedelta(hours=1))
    assert (due.due, due.publishing, due.published_today) == (True, False, 1)
    assert due.last_published_at is not None
    assert due.last_published_at.replace(tzinfo=None) == now.replace(tzinfo=None)
    assert storage.drain_state("facebook", now, now + timedelta(seconds=1)).published_today == 0


def test_due_statuses_answer_before_any_post_is_read(storage: Storage, now) -> None:
    """The publisher's turn and the health snapshot ask which statuses have (due) posts first,
    and read posts whole only then: the answer follows the statuses and the next attempts."""
    (a,) = _articles(storage, now, 1)
    ask = [S.PUBLISHING, S.REMOVING, S.APPROVED]
    assert storage.due_statuses(ask, now) == set() == storage.due_statuses(ask, None)
    storage.save_plans(a, [_plan("facebook", S.APPROVED)], now)
    assert storage.due_statuses(ask, now) == {S.APPROVED}
    claimed = storage.claim_post("facebook", now)
    assert claimed is not None
    assert storage.due_statuses(ask, now) == {S.PUBLISHING} == storage.due_statuses(ask, None)
    assert storage.due_reconciliations(now)  # what the turn then reads whole
    with storage.engine.begin() as conn:
        conn.execute(PostRow.__table__.update().values(next_attempt_at=now + timedelta(minutes=5)))
    assert storage.due_statuses(ask, now) == set()  # its next look is later
    assert storage.due_statuses(ask, None) == {S.PUBLISHING}
    assert storage.due_statuses(ask, now + timedelta(minutes=5)) == {S.PUBLISHING}
