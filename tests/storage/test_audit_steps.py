"""Stepwise audit verification: only the new rows each time, the whole trail once a day.

`Storage.verify_audit_step` is what the daemon runs every `verify_every` (the /healthz check and
the admins' alert). It must find every break a whole walk finds in the rows it reads, catch a
trail cut below the last good check at once, and catch an edit to an old row at the next whole
walk. Both backends (the `db_url` fixture).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from syndicator.storage import Storage, open_storage
from syndicator.storage.audit_log import CHECKPOINT_KEY

KEY = b"s" * 32


def _events(store: Storage, now, first: int, n: int) -> None:
    for i in range(first, first + n):
        store.record_event("test.event", actor="tester", subject=f"s:{i}", data={"i": i}, now=now)


def _store(db_url: str) -> Storage:
    return open_storage(db_url, audit_key=KEY)


def test_each_step_reads_only_the_new_rows(db_url: str, now, monkeypatch) -> None:
    store = _store(db_url)
    try:
        _events(store, now, 0, 5)
        first = store.verify_audit_step(now)
        assert first.ok and first.checked == 5 and first.head is not None
        _events(store, now, 5, 3)
        read: list[int] = []
        real = store.audit_events

        def spy(*args, **kwargs):
            for event in real(*args, **kwargs):
                read.append(event.id)
                yield event

        monkeypatch.setattr(store, "audit_events", spy)
        second = store.verify_audit_step(now + timedelta(hours=1))
        assert second.ok and second.checked == 8
        assert read == [first.head[0] + 1, first.head[0] + 2, first.head[0] + 3]
        # A restarted daemon (another Storage on the same database) goes on from the checkpoint.
        again = _store(db_url)
        try:
            monkeypatch.setattr(again, "audit_events", spy)
            read.clear()
            assert again.verify_audit_step(now + timedelta(hours=2)).ok
            assert read == []
        finally:
            again.close()
    finally:
        store.close()


def test_an_edit_to_a_new_row_is_caught_by_the_next_step(db_url: str, now) -> None:
    store = _store(db_url)
    try:
        _events(store, now, 0, 4)
        assert store.verify_audit_step(now).ok
        _events(store, now, 4, 2)
        newest = store.audit_head()
        assert newest is not None
        with store.engine.begin() as conn:
            conn.execute(
                text("UPDATE audit_events SET actor = 'someone' WHERE id = :i"), {"i": newest[0]}
            )
        result = store.verify_audit_step(now + timedelta(hours=1))
        assert not result.ok and result.bad_id == newest[0]
        # After a break nothing is trusted: the next step walks the whole trail again.
        assert store.get_value(CHECKPOINT_KEY) is None
        assert not store.verify_audit_step(now + timedelta(hours=2)).ok
    finally:
        store.close()


def test_a_trail_cut_below_the_checkpoint_is_caught_at_once(db_url: str, now) -> None:
    store = _store(db_url)
    try:
        _events(store, now, 0, 6)
        checked = store.verify_audit_step(now)
        assert checked.ok and checked.head is not None
        with store.engine.begin() as conn:
            conn.execute(
                text("DELETE FROM audit_events WHERE id >= :i"), {"i": checked.head[0] - 1}
            )
        result = store.verify_audit_step(now + timedelta(minutes=5))
        assert not result.ok and result.bad_id == checked.head[0]
        assert "was cut or re-chained" in (result.reason or "")
    finally:
        store.close()


def test_an_old_row_edit_is_caught_by_the_daily_whole_walk(db_url: str, now) -> None:
    store = _store(db_url)
    try:
        _events(store, now, 0, 5)
        assert store.verify_audit_step(now).ok
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET subject = 's:x' WHERE id = 2"))
        # Within the day only the rows after the checkpoint are read (none here) ...
        assert store.verify_audit_step(now + timedelta(hours=23)).ok
        # ... and the whole walk a day after the last one finds the edit.
        result = store.verify_audit_step(now + timedelta(days=1))
        assert not result.ok and result.bad_id == 2
    finally:
        store.close()


def test_a_missing_or_garbled_checkpoint_means_a_whole_walk(db_url: str, now) -> None:
    store = _store(db_url)
    try:
        _events(store, now, 0, 3)
        assert store.verify_audit_step(now).ok
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET data = :d WHERE id = 1"), {"d": '{"i":9}'})
        store.set_value(CHECKPOINT_KEY, "not json", now)
        result = store.verify_audit_step(now + timedelta(minutes=1))
        assert not result.ok and result.bad_id == 1
    finally:
        store.close()


def test_steps_with_a_row_budget_walk_a_backlog_in_bites(db_url: str, now) -> None:
    store = _store(db_url)
    try:
        _events(store, now, 0, 10)
        answers = [store.verify_audit_step(now, max_rows=4) for _ in range(3)]
        assert [(a.ok, a.pending, a.checked) for a in answers] == [
            (True, True, 4), (True, True, 8), (True, False, 10),
        ]  # fmt: skip
        # Caught up: the next steps read only what was added, in bites again.
        _events(store, now, 10, 5)
        later = now + timedelta(minutes=5)
        assert store.verify_audit_step(later, max_rows=4).pending
        assert not store.verify_audit_step(later, max_rows=4).pending
        # A break inside a later bite is found by that bite.
        _events(store, now, 15, 6)
        bad = (store.audit_head() or (0, ""))[0] - 1
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET actor = 'x' WHERE id = :i"), {"i": bad})
        first = store.verify_audit_step(later, max_rows=4)
        assert first.ok and first.pending
        second = store.verify_audit_step(later, max_rows=4)
        assert not second.ok and second.bad_id == bad
    finally:
        store.close()


def test_a_whole_walk_in_bites_starts_again_from_the_first_row(db_url: str, now) -> None:
    store = _store(db_url)
    try:
        _events(store, now, 0, 6)
        assert store.verify_audit_step(now).ok
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET subject = 's:x' WHERE id = 2"))
        day = now + timedelta(days=1)
        # The daily whole walk, in bites of 1 row: the edited second row fails the second bite.
        assert store.verify_audit_step(day, max_rows=1).pending
        result = store.verify_audit_step(day, max_rows=1)
        assert not result.ok and result.bad_id == 2
    finally:
        store.close()
