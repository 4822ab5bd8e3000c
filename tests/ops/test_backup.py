"""`syndicator db backup`: a consistent, verified copy taken while another connection writes."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.cli import main
from syndicator.cli.ops import backup_sqlite, postgres_advice
from syndicator.errors import StorageError
from syndicator.storage import open_storage


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "syndicator.toml"
    path.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    return path


def test_backup_while_another_connection_writes(sqlite_url: str, tmp_path: Path) -> None:
    """The copy passes integrity_check and audit verify although events are appended meanwhile."""
    storage = open_storage(sqlite_url)
    for i in range(200):
        storage.record_event("test.seed", actor="test", subject=str(i), data={"i": i}, now=_now())
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        # A second Storage is a second connection pool, as the running daemon would be.
        other = open_storage(sqlite_url, migrate=False)
        i = 0
        while not stop.is_set():
            other.record_event("test.live", actor="test", subject=str(i), data={"i": i}, now=_now())
            written.append(i)
            i += 1
        other.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:  # make sure writes are really happening during the copy
            threading.Event().wait(0.01)
        copies = [
            backup_sqlite(Path(sqlite_url.removeprefix("sqlite:///")), tmp_path / f"b{n}.db")
            for n in range(3)
        ]
    finally:
        stop.set()
        thread.join()
    for report in copies:
        assert report.audit_ok and report.audit_checked >= 200
        assert report.revision is not None
        conn = sqlite3.connect(report.path)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        conn.close()
    assert not list(tmp_path.glob("*.partial"))
    storage.close()


def test_backup_command_writes_and_refuses_to_overwrite(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`db backup PATH` prints what it checked, and will not replace PATH without --force."""
    open_storage(sqlite_url).close()
    config = write_config(tmp_path, sqlite_url)
    target = tmp_path / "backups" / "syndicator-backup.db"
    assert main(["--config", str(config), "db", "backup", str(target)]) == 0
    out = capsys.readouterr().out
    assert "backup written" in out and "integrity: ok" in out and "audit chain ok" in out
    assert target.exists()
    assert main(["--config", str(config), "db", "backup", str(target)]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["--config", str(config), "db", "backup", "--force", str(target)]) == 0


def test_backup_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    """A corrupt or foreign file is reported, and nothing is left at the target."""
    source = tmp_path / "not-a-db.db"
    source.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError):
        backup_sqlite(source, tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


def test_postgres_gets_pg_dump_advice_without_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On PostgreSQL the command exits 1 and prints pg_dump advice with the password removed."""
    url = "postgresql+psycopg://synd:s3cret-pass@db.internal:5432/syndicator"
    config = write_config(tmp_path, url)
    assert main(["--config", str(config), "db", "backup", str(tmp_path / "x.dump")]) == 1
    err = capsys.readouterr().err
    assert "pg_dump --format=custom" in err
    assert "postgresql://synd@db.internal:5432/syndicator" in err
    assert "s3cret" not in err
    assert "s3cret" not in postgres_advice(url, tmp_path / "x.dump")


def _now() -> datetime:
    return datetime.now(UTC)
