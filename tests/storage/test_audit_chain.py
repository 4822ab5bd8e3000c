"""The audit trail: chained on both backends, tampering caught, secrets never stored."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from syndicator.storage import Storage


def _events(storage: Storage, now, n: int = 5) -> None:
    for i in range(n):
        storage.record_event("test.event", actor="tester", subject=f"s:{i}", data={"i": i}, now=now)


def test_chain_verifies(storage: Storage, now) -> None:
    """A fresh chain of events verifies."""
    _events(storage, now)
    result = storage.verify_audit()
    assert result.ok and result.checked == 5


def test_edited_row_is_named(storage: Storage, now) -> None:
    """Editing any field of a row breaks the chain at that row."""
    _events(storage, now)
    with storage.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET data = :d WHERE id = 3"), {"d": '{"i":99}'})
    result = storage.verify_audit()
    assert not result.ok and result.bad_id == 3 and "edited" in (result.reason or "")


def test_deleted_row_is_caught(storage: Storage, now) -> None:
    """Deleting a row in the middle is reported at the row after the gap."""
    _events(storage, now)
    with storage.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = 2"))
    result = storage.verify_audit()
    assert not result.ok and result.bad_id == 3


def test_reordered_rows_are_caught(storage: Storage, now) -> None:
    """Swapping two rows' contents is caught at the first of them."""
    _events(storage, now)
    with storage.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET subject = 's:x' WHERE id = 2"))
        conn.execute(text("UPDATE audit_events SET subject = 's:1' WHERE id = 3"))
        conn.execute(text("UPDATE audit_events SET subject = 's:2' WHERE id = 2"))
    assert storage.verify_audit().bad_id == 2


def test_secrets_are_scrubbed(storage: Storage, now) -> None:
    """Token-like keys never reach the stored data."""
    storage.record_event(
        "channel.token_set",
        actor="cli",
        data={
            "access_token": "EAAB-secret",
            "nested": {"refresh_token": "r1"},
            "token_state": "ok",
        },
        now=now,
    )
    event = next(iter(storage.audit_events()))
    assert "EAAB-secret" not in event.data and "r1" not in event.data
    assert json.loads(event.data)["token_state"] == "ok"


def test_cli_verify_and_export(tmp_path: Path, now) -> None:
    """`audit verify` exits 1 naming a hand-edited row; `audit export` writes CSV and JSONL."""
    from syndicator.storage import open_storage

    db = tmp_path / "a.db"
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{db}"\n', encoding="utf-8")
    store = open_storage(f"sqlite:///{db}")
    _events(store, now, 4)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", str(cfg), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    ok = run("audit", "verify")
    assert ok.returncode == 0 and "4 event(s)" in ok.stdout
    lines = run("audit", "export", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(x)["id"] for x in lines] == [1, 2, 3, 4]
    csv_out = run("audit", "export", "--format", "csv", "--since", "2025-11-14").stdout
    assert csv_out.splitlines()[0].startswith("id,at,kind")
    assert len(csv_out.splitlines()) == 5
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = 2"))
    bad = run("audit", "verify")
    assert bad.returncode == 1 and "row 2" in bad.stderr
    store.close()


# -- the keyed, anchored chain (issue 12, point 5) ---------------------------------------------

KEY = b"k" * 32


def _rechain(store: Storage, key: bytes | None) -> None:
    """What an intruder with only the database does: recompute every hash in order."""
    from syndicator.audit import GENESIS, event_hash

    events = list(store.audit_events())
    prev = GENESIS
    with store.engine.begin() as conn:
        for e in events:
            digest = event_hash(prev, e.id, e.at, e.kind, e.actor, e.subject, e.data, key)
            conn.execute(
                text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :i"),
                {"p": prev, "h": digest, "i": e.id},
            )
            prev = digest


def _approve_event(store: Storage, now, who: str) -> None:
    store.record_event(
        "post.approved", actor=who, subject="post:1", data={"channel": "facebook"}, now=now
    )


def test_rechained_after_changing_approver_is_caught_with_the_key(db_url: str, now) -> None:
    """Changing an approver and recomputing every hash without the key fails verification."""
    from syndicator.storage import open_storage

    store = open_storage(db_url, audit_key=KEY)
    _events(store, now, 3)
    _approve_event(store, now, "telegram:111 (Nguyễn Văn A)")
    _events(store, now, 2)
    assert store.verify_audit().ok and store.verify_audit().keyed == 6
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'telegram:666 (Kẻ gian)' WHERE id = 4"))
    assert store.verify_audit().bad_id == 4
    _rechain(store, None)  # the intruder has no key: plain SHA-256
    result = store.verify_audit()
    assert not result.ok and "no keyed row" in (result.reason or "")
    _rechain(store, b"a guessed key, wrong of course")
    result = store.verify_audit()
    assert not result.ok and result.bad_id == 1
    store.close()


def test_rechained_unkeyed_trail_is_caught_by_the_anchor(db_url: str, now) -> None:
    """Without a key a re-chain verifies, but a head published before it does not match."""
    from syndicator.storage import open_storage

    store = open_storage(db_url, audit_key=None)
    _events(store, now, 2)
    _approve_event(store, now, "telegram:111 (Nguyễn Văn A)")
    anchor = store.audit_head()
    assert anchor is not None and anchor[0] == 3
    assert store.verify_audit(anchor).ok
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'telegram:666' WHERE id = 3"))
    _rechain(store, None)
    assert store.verify_audit().ok  # the chain alone cannot tell
    result = store.verify_audit(anchor)
    assert not result.ok and result.bad_id == 3 and "rewritten" in (result.reason or "")
    store.close()


def test_deleting_newest_rows_is_caught_by_the_anchor(db_url: str, now) -> None:
    """Truncating the trail's end verifies as a chain but fails against the published head."""
    from syndicator.storage import open_storage

    store = open_storage(db_url, audit_key=KEY)
    _events(store, now, 6)
    anchor = store.audit_head()
    assert anchor is not None
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id >= 5"))
    assert store.verify_audit().ok
    result = store.verify_audit(anchor)
    assert not result.ok and "row 6 is missing" in (result.reason or "")
    assert "ends at row 4" in (result.reason or "")
    older = (2, next(e.hash for e in store.audit_events() if e.id == 2))
    assert store.verify_audit(older).ok  # an older anchor still present: fine
    store.close()


def test_legacy_trail_is_sealed_by_a_keyed_segment(db_url: str, now) -> None:
    """Opening an unkeyed trail with a key appends one `audit.keyed` row; both parts verify."""
    from syndicator.audit import key_id
    from syndicator.storage import open_storage

    old = open_storage(db_url, audit_key=None)
    _events(old, now, 3)
    old.close()
    store = open_storage(db_url, audit_key=KEY)
    store = open_storage(db_url, audit_key=KEY)  # a second opening does not seal again
    events = list(store.audit_events())
    assert [e.kind for e in events][-1] == "audit.keyed" and len(events) == 4
    assert json.loads(events[-1].data) == {"legacy_rows_until": 3, "key_id": key_id(KEY)}
    _events(store, now, 2)
    result = store.verify_audit()
    assert result.ok and (result.legacy, result.keyed) == (3, 3)
    other = open_storage(db_url, audit_key=b"another key entirely, 32 bytes!")
    result = other.verify_audit()
    assert not result.ok and result.bad_id == 4 and "another key" in (result.reason or "")
    other.close()
    # A legacy row edited, then the legacy part re-hashed without the key: the seal catches it.
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE id = 3"))
    assert store.verify_audit().bad_id == 3
    _rechain(store, None)
    result = store.verify_audit()
    assert not result.ok and "no keyed row" in (result.reason or "")
    store.close()


def test_unkeyed_verifier_cannot_pass_keyed_rows(db_url: str, now) -> None:
    """A keyed trail checked without the key fails and says a key is needed."""
    from syndicator.storage import open_storage

    store = open_storage(db_url, audit_key=KEY)
    _events(store, now, 2)
    store.close()
    bare = open_storage(db_url, audit_key=None)
    result = bare.verify_audit()
    assert not result.ok and result.bad_id == 1 and "SYNDICATOR_AUDIT_KEY" in (result.reason or "")
    bare.close()


def test_audit_key_from_environment() -> None:
    """SYNDICATOR_AUDIT_KEY wins; else a key derived from SYNDICATOR_SECRET_KEY; short is an error."""
    import pytest

    from syndicator.audit import audit_key_from_env

    assert audit_key_from_env({}) is None
    assert audit_key_from_env({"SYNDICATOR_AUDIT_KEY": "a" * 16}) == b"a" * 16
    derived = audit_key_from_env({"SYNDICATOR_SECRET_KEY": "s" * 20})
    assert derived is not None and len(derived) == 32 and b"s" * 20 not in derived
    both = {"SYNDICATOR_SECRET_KEY": "s" * 20, "SYNDICATOR_AUDIT_KEY": "a" * 16}
    assert audit_key_from_env(both) == b"a" * 16
    with pytest.raises(ValueError, match="SYNDICATOR_AUDIT_KEY must be at least 16"):
        audit_key_from_env({"SYNDICATOR_AUDIT_KEY": "short"})


def test_cli_verify_anchor(tmp_path: Path, now) -> None:
    """`audit verify --anchor ID:HASH` exits 1 on truncation and on a bad anchor, 0 when present."""
    import os

    from syndicator.storage import open_storage

    db = tmp_path / "a.db"
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{db}"\n', encoding="utf-8")
    env = {**os.environ, "SYNDICATOR_AUDIT_KEY": KEY.decode()}
    env.pop("SYNDICATOR_SECRET_KEY", None)
    store = open_storage(f"sqlite:///{db}", audit_key=KEY)
    _events(store, now, 5)
    head = store.audit_head()
    assert head is not None

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", str(cfg), *args],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )

    ok = run("audit", "verify", "--anchor", f"{head[0]}:{head[1]}")
    assert ok.returncode == 0 and "present with that hash" in ok.stdout, ok.stderr
    bad_form = run("audit", "verify", "--anchor", "5:nothex")
    assert bad_form.returncode == 1 and "ID:HASH" in bad_form.stderr
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE id = 5"))
    cut = run("audit", "verify", "--anchor", f"{head[0]}:{head[1]}")
    assert cut.returncode == 1 and "row 5 is missing" in cut.stderr
    store.close()
