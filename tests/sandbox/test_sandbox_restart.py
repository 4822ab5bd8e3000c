"""`syndicator sandbox` starts clean, or with --keep resumes the Zalo token the database holds."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator import secretbox
from syndicator.cli.sandbox_cmds import start_clean, stored_refresh_token
from syndicator.storage import open_storage


def test_start_clean_removes_the_last_database(tmp_path: Path) -> None:
    """The database and SQLite's side files go; a missing file is no error."""
    db = tmp_path / "syndicator-sandbox.db"
    for name in (db.name, db.name + "-wal", db.name + "-shm"):
        (tmp_path / name).write_text("x")
    start_clean(db)
    assert list(tmp_path.iterdir()) == []
    start_clean(db)  # nothing left: still fine


def test_keep_reads_the_stored_zalo_refresh_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token the daemon stored (encrypted with the sandbox key) is read back for the stand-in."""
    db, key_file = tmp_path / "s.db", tmp_path / "s.key"
    monkeypatch.setenv(secretbox.ENV, secretbox.throwaway_key(key_file))
    storage = open_storage(f"sqlite:///{db}", audit_key=None)
    storage.save_tokens(
        "zalo", access_token="zalo-access-3", refresh_token="zalo-refresh-3-abcd",
        access_expires_at=None, refresh_obtained_at=datetime.now(UTC), now=datetime.now(UTC),
    )  # fmt: skip
    storage.close()
    monkeypatch.delenv(secretbox.ENV)
    assert stored_refresh_token(db, key_file, "zalo") == "zalo-refresh-3-abcd"
    assert stored_refresh_token(db, key_file, "facebook") is None
    assert secretbox.ENV not in os.environ  # the key does not leak out
