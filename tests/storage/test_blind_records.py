"""An ok 304 of a clean source is recorded without reading its row, with the same outcome."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

from syndicator.storage import PollRecord, open_storage

LEASE = timedelta(minutes=3)


def test_claim_says_whether_a_source_is_clean(db_url: str, now: datetime) -> None:
    """Clean: status ok, no error count, no error text; a new or failing source is not."""
    storage = open_storage(db_url)
    storage.sync_sources([("ok", "https://x/ok"), ("new", "https://x/new"),
                          ("warn", "https://x/warn"), ("bad", "https://x/bad")], now)  # fmt: skip
    storage.record_polls(
        [PollRecord("ok", now, now, ok=True),
         PollRecord("warn", now, now, ok=True, error="parse: a stray tag"),
         PollRecord("bad", now, now, ok=False, error="HTTP 503")],
        unhealthy_after=5, now=now,
    )  # fmt: skip
    claimed = storage.claim_due_sources(now, LEASE, ["ok", "new", "warn", "bad"])
    assert {sid: c.clean for sid, c in claimed.items()} == {
        "ok": True, "new": False, "warn": False, "bad": False,
    }  # fmt: skip
    assert claimed["bad"].error_count == 1 and claimed["bad"].last_error == "HTTP 503"
    storage.close()


def test_blind_record_matches_the_long_way(db_url: str, now: datetime) -> None:
    """Two clean sources, one 304 recorded blind and one the long way: the same state."""
    storage = open_storage(db_url)
    storage.sync_sources([("a", "https://x/a"), ("b", "https://x/b")], now)
    storage.record_polls(
        [PollRecord(s, now, now, ok=True, etag='"v1"', validators_changed=True) for s in "ab"],
        unhealthy_after=5, now=now,
    )  # fmt: skip
    later, nxt = now + timedelta(minutes=1), now + timedelta(minutes=31)
    storage.record_polls(
        [PollRecord("a", later, nxt, ok=True, unchanged=True, clean=True),
         PollRecord("b", later, nxt, ok=True, unchanged=True, clean=False)],
        unhealthy_after=5, now=later,
    )  # fmt: skip
    a, b = (asdict(storage.source_state(s)) for s in "ab")  # type: ignore[arg-type]
    assert a.pop("id") == "a" and b.pop("id") == "b"
    assert a.pop("url") == "https://x/a" and b.pop("url") == "https://x/b"
    assert a == b
    assert (a["last_checked_at"], a["last_success_at"], a["next_check_at"]) == (later, later, nxt)
    assert (a["status"], a["error_count"], a["etag"]) == ("ok", 0, '"v1"')
    storage.close()


def test_a_source_recorded_twice_in_a_batch_keeps_the_order(db_url: str, now: datetime) -> None:
    """A clean 304 then a failure of the same source in one batch: the failure counts."""
    storage = open_storage(db_url)
    storage.sync_sources([("a", "https://x/a")], now)
    storage.record_polls([PollRecord("a", now, now, ok=True)], unhealthy_after=5, now=now)
    t1, t2 = now + timedelta(minutes=1), now + timedelta(minutes=2)
    storage.record_polls(
        [PollRecord("a", t1, t1, ok=True, unchanged=True, clean=True),
         PollRecord("a", t2, t2 + LEASE, ok=False, error="timeout: read")],
        unhealthy_after=5, now=t2,
    )  # fmt: skip
    state = storage.source_state("a")
    assert state is not None
    assert (state.status, state.error_count, state.last_error) == ("failing", 1, "timeout: read")
    assert (state.last_checked_at, state.last_success_at) == (t2, t1)
    storage.close()
