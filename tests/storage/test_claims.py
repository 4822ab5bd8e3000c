"""Claiming due sources in one statement: two claimers never get one source."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import update

from syndicator.storage import PollRecord, Storage, open_storage
from syndicator.storage.models import SourceRow

LEASE = timedelta(minutes=10)


def test_claim_takes_only_due_sources_and_returns_their_state(storage: Storage, now) -> None:
    """Due sources of `among` are claimed with their state; the others are left alone."""
    storage.sync_sources([("a", "https://a"), ("b", "https://b"), ("c", "https://c")], now)
    storage.record_polls(
        [PollRecord("c", now, now + timedelta(hours=1), ok=True)], unhealthy_after=5, now=now
    )
    storage.record_polls(
        [PollRecord("a", now, now, ok=True, etag='"v1"', validators_changed=True)],
        unhealthy_after=5,
        now=now,
    )
    claimed = storage.claim_due_sources(now, LEASE, ["a", "b", "c"])
    assert sorted(claimed) == ["a", "b"]
    assert claimed["a"].etag == '"v1"'
    assert claimed["a"].next_check_at == now + LEASE
    assert storage.claim_due_sources(now, LEASE, ["a", "b", "c"]) == {}  # already taken
    assert storage.claim_due_sources(now + LEASE, LEASE, ["b"]).keys() == {"b"}  # lease over
    assert storage.claim_due_sources(now, LEASE, []) == {}


def test_two_claimers_never_get_one_source(db_url: str, now: datetime) -> None:
    """Two storages (two daemons) claiming at the same moment split the due sources."""
    ids = [f"s{i}" for i in range(300)]
    first, second = open_storage(db_url), open_storage(db_url, migrate=False)
    first.sync_sources([(sid, f"https://x/{sid}") for sid in ids], now)
    try:
        for round_ in range(5):
            with first.engine.begin() as conn:
                conn.execute(update(SourceRow).values(next_check_at=now))
            barrier = threading.Barrier(2)
            got: dict[str, list[str]] = {}

            def claim(
                name: str,
                storage: Storage,
                barrier: threading.Barrier = barrier,
                got: dict[str, list[str]] = got,
            ) -> None:
                barrier.wait()
                # Small slices, many statements: the two claimers interleave.
                out: list[str] = []
                for start in range(0, len(ids), 20):
                    out += storage.claim_due_sources(now, LEASE, ids[start : start + 60])
                got[name] = out

            threads = [
                threading.Thread(target=claim, args=("first", first)),
                threading.Thread(target=claim, args=("second", second)),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            a, b = got["first"], got["second"]
            assert len(a) == len(set(a)) and len(b) == len(set(b)), round_
            assert not set(a) & set(b), round_
            assert set(a) | set(b) == set(ids), round_
    finally:
        first.close()
        second.close()
