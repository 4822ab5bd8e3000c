"""A decision recorded by another connection (another process) wakes the publisher (issue 11).

The decision watch runs against a real database on both backends: SQLite (data_version and
the newest approval) and PostgreSQL (LISTEN/NOTIFY over a socket). The "other process" is a
second Storage with its own engine, as `syndicator approve` opens one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from syndicator.decision_watch import DecisionWatch
from syndicator.storage import PostPlan, Storage, open_storage
from syndicator.types import Post, PostStatus
from tests.publishing.conftest import article

WAIT_S = 15.0  # generous: an answer, not a timing


@pytest.fixture
def two_storages(db_url: str) -> Iterator[tuple[Storage, Storage]]:
    """The daemon's storage and another process's (its own engine and connections)."""
    daemon_side = open_storage(db_url)
    other = open_storage(db_url, migrate=False)
    yield daemon_side, other
    other.close()
    daemon_side.close()


def _pending(storage: Storage, n: int) -> int:
    now = datetime.now(UTC)
    storage.sync_sources([("portal", "https://portal.example.gov.vn/rss")], now)
    [new] = storage.add_articles("portal", [article(n)], now).new
    assert new.id is not None
    post = Post("facebook", new.id, {"message": "x", "link": f"https://p/{n}"}, "x", f"m{n}")
    [record] = storage.save_plans(new.id, [PostPlan(post, PostStatus.PENDING)], now)
    return record.id


class Waker:
    """A thread-safe wake() that counts and can be awaited from the test thread."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    def wait(self) -> bool:
        got = self.event.wait(WAIT_S)
        self.event.clear()
        return got


def test_an_approval_by_another_connection_wakes_the_watch(
    two_storages: tuple[Storage, Storage],
) -> None:
    """Approve from the other side: woken; a rejection and other writes do not wake it."""
    daemon_side, other = two_storages
    first, second, third = (_pending(daemon_side, n) for n in (1, 2, 3))
    waker = Waker()
    watch = DecisionWatch(daemon_side.engine.url.render_as_string(hide_password=False), waker)
    watch.start()
    try:
        threading.Event().wait(0.6)  # let it take its baseline (SQLite) or LISTEN (PostgreSQL)
        now = datetime.now(UTC)
        other.decide([first], PostStatus.APPROVED, actor="cli:test", now=now)
        assert waker.wait(), "an approval by another connection did not wake the watch"
        # A rejection moves nothing to publish: no wake. Nor does an unrelated write.
        other.decide([second], PostStatus.REJECTED, actor="cli:test", now=now)
        other.record_event("test.unrelated", actor="test", now=now)
        threading.Event().wait(1.0)
        assert not waker.event.is_set()
        other.decide([third], PostStatus.APPROVED, actor="cli:test", now=now)
        assert waker.wait(), "a second approval did not wake the watch"
    finally:
        watch.stop()
    assert waker.count == 2


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # LISTEN/NOTIFY is PostgreSQL's
def test_the_listener_reconnects_when_its_connection_drops(
    two_storages: tuple[Storage, Storage], db_url: str
) -> None:
    """PostgreSQL: the LISTEN connection is killed; the watch reconnects, wakes once (a
    notification may have been lost meanwhile) and hears the next approval."""
    daemon_side, other = two_storages
    post = _pending(daemon_side, 1)
    waker = Waker()
    watch = DecisionWatch(db_url, waker)
    watch.start()
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        listening = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
        with admin.connect() as conn:
            for _ in range(100):
                pids = conn.execute(text(listening)).scalars().all()
                if pids:
                    break
                threading.Event().wait(0.1)
            assert pids, "the watch never listened"
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        assert waker.wait(), "no wake after the reconnect"
        other.decide([post], PostStatus.APPROVED, actor="cli:test", now=datetime.now(UTC))
        assert waker.wait(), "the reconnected listener missed an approval"
    finally:
        watch.stop()
        admin.dispose()


def test_a_missing_sqlite_file_is_retried_not_fatal(tmp_path: Path) -> None:
    """SQLite: a database that cannot be opened yet is logged and retried; stop still ends it."""
    waker = Waker()
    watch = DecisionWatch(f"sqlite:///{tmp_path}/absent.db", waker)
    watch.start()
    threading.Event().wait(0.5)
    watch.stop(timeout=5)
    assert watch._thread is None and waker.count == 0
