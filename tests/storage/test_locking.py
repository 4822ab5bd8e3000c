"""SQLite locking: readers never wait for a writer; writers queue behind each other."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.errors import StorageError
from syndicator.storage import open_storage


def test_reads_do_not_wait_for_a_writer_holding_the_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    storage = open_storage(url, busy_timeout_s=2.0)
    other = sqlite3.connect(tmp_path / "lock.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        started = time.monotonic()
        assert storage.list_articles() == []
        assert storage.source_stamp("portal") == (0, None)
        assert storage.source_states() == {}
        assert time.monotonic() - started < 1.0
        # A write must still queue behind it and fail cleanly when it cannot get in.
        with pytest.raises(StorageError):
            storage.sync_sources([("portal", "http://x.invalid/rss")], datetime.now(UTC))
    finally:
        other.execute("ROLLBACK")
        other.close()
        storage.close()
