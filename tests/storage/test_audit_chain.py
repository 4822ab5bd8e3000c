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
