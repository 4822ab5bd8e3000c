"""Leadership on PostgreSQL: one daemon publishes and runs the bot; SQLite is always leader."""

from __future__ import annotations

import pytest

from syndicator.service import LeaderLock
from syndicator.storage import Storage


def test_one_leader_at_a_time(storage: Storage) -> None:
    """Two daemons on one database: only one leads until it lets go (on SQLite, always)."""
    first, second = LeaderLock(storage.engine), LeaderLock(storage.engine)
    assert first.try_acquire()
    if storage.engine.dialect.name != "postgresql":
        assert second.try_acquire()
        return
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_is_leader_without_asking(storage: Storage) -> None:
    """SQLite needs no lock: InstanceLock already allows a single daemon."""
    assert LeaderLock(storage.engine).is_leader
