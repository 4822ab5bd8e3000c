"""The queries the daemon asks every second or two, on SQLite and PostgreSQL (issue 11)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect

from syndicator.storage import PollRecord, Storage
from tests.storage.test_articles_store import make


def test_due_sources_among_filters_and_keeps_order(storage: Storage, now) -> None:
    """Only the configured sources that are due come back, the longest-waiting first."""
    storage.sync_sources([("a", "https://a"), ("b", "https://b"), ("c", "https://c")], now)
    storage.record_polls(
        [
            PollRecord("a", now, now - timedelta(minutes=1), ok=True),
            PollRecord("b", now, now - timedelta(minutes=5), ok=True),
            PollRecord("c", now, now + timedelta(minutes=5), ok=True),
        ],
        unhealthy_after=3,
        now=now,
    )
    assert storage.due_sources(now) == ["b", "a"]
    assert storage.due_sources(now, among=["a", "c", "gone"]) == ["a"]
    assert storage.due_sources(now, among={"b"}) == ["b"]
    assert storage.due_sources(now, among=[]) == []


def test_unhealthy_sources_name_only_the_unhealthy(storage: Storage, now) -> None:
    """A failing source is not yet unhealthy; an unhealthy one comes with its last error,
    filtered to the sources asked about, and leaves the list when it recovers."""
    storage.sync_sources([("a", "https://a"), ("b", "https://b"), ("c", "https://c")], now)
    assert storage.unhealthy_sources() == {}
    for _ in range(2):
        storage.record_polls(
            [
                PollRecord("a", now, now, ok=False, error="HTTP 503 Service Unavailable"),
                PollRecord("c", now, now, ok=False, error="timeout: ReadTimeout"),
            ],
            unhealthy_after=2,
            now=now,
        )
    storage.record_polls(
        [PollRecord("b", now, now, ok=False, error="HTTP 500")], unhealthy_after=2, now=now
    )
    assert storage.unhealthy_sources() == {
        "a": "HTTP 503 Service Unavailable",
        "c": "timeout: ReadTimeout",
    }
    assert storage.unhealthy_sources(["a", "b"]) == {"a": "HTTP 503 Service Unavailable"}
    storage.record_polls([PollRecord("a", now, now, ok=True)], unhealthy_after=2, now=now)
    assert storage.unhealthy_sources(["a", "b"]) == {}


def test_planning_reads_through_the_partial_index(storage: Storage, now) -> None:
    """The index of articles waiting to be planned exists, and the planner's read still finds
    new and changed originals (never duplicates) and nothing once they are planned."""
    names = {ix["name"] for ix in inspect(storage.engine).get_indexes("articles")}
    assert {"ix_articles_to_plan", "ix_articles_duplicate_of"} <= names
    assert "ix_sources_status" in {
        ix["name"] for ix in inspect(storage.engine).get_indexes("sources")
    }
    stored = storage.add_articles("portal", [make(1), make(2)], now).new
    copy = make(3, source_id="other", fingerprint="fp1")
    storage.add_articles("other", [copy], now)
    todo = storage.articles_for_planning(10)
    assert [a.guid for a, _ in todo] == ["g1", "g2"]
    assert todo[0][1] is None  # the copy has no image to lend
    storage.save_plans_many([(a.id, [], "test") for a, _ in todo if a.id], now)
    assert storage.articles_for_planning(10) == []
    changed = make(2, content_hash="hash2b", title="Tin số 2 (sửa)")
    assert storage.add_articles("portal", [changed], now).changed
    assert [a.id for a, _ in storage.articles_for_planning(10)] == [stored[1].id]


def test_posts_asked_by_status_go_through_an_index(storage: Storage) -> None:
    """The health snapshot asks every second for the approved posts of every channel: without
    an index led by the status, SQLite walked the whole outbox in id order (104 ms a read on
    100,000 posts, migration 0012)."""
    assert "ix_posts_status" in {ix["name"] for ix in inspect(storage.engine).get_indexes("posts")}
    if storage.engine.dialect.name != "sqlite":
        return
    with storage.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT * FROM posts WHERE status IN ('approved') "
            "ORDER BY id LIMIT 500"
        ).all()
    assert any("ix_posts_status" in str(row[-1]) for row in plan), plan


def test_the_source_stamp_is_read_from_an_index_alone(storage: Storage) -> None:
    """Every changed feed checks its source's stamp (count, latest update) as it stores: read
    from ix_articles_source_updated alone, not from each row past the articles' text
    (migration 0013)."""
    from sqlalchemy.dialects import sqlite

    from syndicator.storage.lookups import STAMP as _STAMP

    names = {ix["name"] for ix in inspect(storage.engine).get_indexes("articles")}
    assert "ix_articles_source_updated" in names
    if storage.engine.dialect.name != "sqlite":
        return
    sql = str(_STAMP.compile(dialect=sqlite.dialect()))
    with storage.engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", ("portal",)).all()
    assert any("COVERING INDEX ix_articles_source_updated" in str(row[-1]) for row in plan), plan


def test_reads_inside_reading_share_one_connection(storage: Storage, now) -> None:
    """The health snapshot's reads (ORM and Core alike) take one pooled connection inside
    reading(), not one each; nested blocks share it too, and after the block each read takes
    its own again. A write inside keeps its own connection, so it is not lost."""
    from sqlalchemy import event

    storage.sync_sources([("a", "https://a")], now)
    checkouts: list[object] = []
    listener = lambda *args: checkouts.append(args[1])  # noqa: E731
    event.listen(storage.engine.pool, "checkout", listener)
    try:
        with storage.reading():
            assert storage.ping()
            storage.channel_statuses()
            storage.unhealthy_sources()
            with storage.reading():
                storage.list_posts(limit=5)
            storage.source_stamp("a")
        assert len(checkouts) == 1
        storage.ping()
        storage.unhealthy_sources()
        assert len(checkouts) == 3
        with storage.reading():
            storage.set_value("k", "v", now)
        assert storage.get_value("k") == "v"
    finally:
        event.remove(storage.engine.pool, "checkout", listener)


def test_sqlite_connections_keep_a_small_page_cache(sqlite_url: str) -> None:
    """Every SQLite connection of the pool caches at most SQLITE_CACHE_KIB of pages (the
    file's pages stay in the OS cache): SQLite's default 2 MB each grew the daemon's RSS."""
    from sqlalchemy import text

    from syndicator.storage import open_storage
    from syndicator.storage.engine import SQLITE_CACHE_KIB

    storage = open_storage(sqlite_url)
    try:
        with storage.engine.connect() as conn:
            assert conn.execute(text("PRAGMA cache_size")).scalar() == -SQLITE_CACHE_KIB
    finally:
        storage.close()
