"""Engine creation, SQLite pragmas, the writer lock and Alembic migrations."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from syndicator.errors import StorageError

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration (tests/storage/test_migrations_head.py checks it against Alembic's own
# answer). A database already there is not handed to Alembic at start-up: importing Alembic and
# Mako for a no-op upgrade was ~11 MB of the daemon's resident memory (issue 11).
HEAD = "0013"
# Every writer takes this lock first, so audit rows get contiguous ids and one hash chain even
# with several daemons on one PostgreSQL database.
WRITER_LOCK_KEY = 0x5359_4E44  # "SYND"


# Execution option marking a connection that only reads (see _sqlite_pragmas).
READ_ONLY = "syndicator_read_only"


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (absolute when the config made it so), else None."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database)).expanduser()


def check_writable(path: Path) -> None:
    """StorageError, one line with the fix, when the SQLite file or its directory is not
    writable (SQLite also writes -wal and -shm files beside the database)."""
    path = path.absolute()
    fix = "(fix: give the daemon's user write access there, or set [database] url elsewhere)"
    if path.exists() and not os.access(path, os.W_OK):
        raise StorageError(f"database file {path} is not writable {fix}")
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent  # the directory would be created inside this one
    if not directory.is_dir():
        raise StorageError(f"{directory} is not a directory, so {path.name} cannot go there {fix}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StorageError(f"directory {directory} is not writable for {path.name} {fix}")


def make_engine(url: str, busy_timeout_s: float = 30.0) -> Engine:
    """Build an engine: SQLite file in WAL mode with a busy timeout, or PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        path = sqlite_path(url)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the database directory {path.parent.absolute()}: "
                    f"{exc.strerror} (fix: create it writable for the daemon's user, or set "
                    "[database] url elsewhere)"
                ) from exc
            check_writable(path)
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
            poolclass=NullPool if database in ("", ":memory:") else None,
        )
        _sqlite_pragmas(engine, busy_timeout_s)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


# SQLite's own page cache per connection, in KiB (its default is 2,000). The pages stay in the
# operating system's file cache either way; SQLite's copy of them was most of the daemon's RSS
# growth in its steady state (~7 MB in two minutes with 2,000 feeds, ~2.5 MB at 256 KiB), and
# neither the daemon's steady CPU nor a year's directive report got slower with it
# (docs/benchmarks.md, run C1 and bench/report.py).
SQLITE_CACHE_KIB = 256


def _sqlite_pragmas(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE below is what runs.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            # A reader: WAL gives it a snapshot without waiting for, or blocking, a writer.
            conn.exec_driver_sql("BEGIN")
        else:
            # IMMEDIATE takes the write lock up front: no deadlock-prone upgrades mid-transaction.
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def take_writer_lock(conn: Any) -> None:
    """Serialise writers on PostgreSQL (SQLite's BEGIN IMMEDIATE already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITER_LOCK_KEY})


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (idempotent)."""
    if revision == "head":
        with contextlib.suppress(SQLAlchemyError):  # unreadable: Alembic says why, below
            if current_revision(engine) == HEAD:
                return  # nothing to do, and Alembic stays out of memory
    from alembic import command

    try:
        command.upgrade(alembic_config(engine), revision)
    except SQLAlchemyError as exc:
        # One line, not alembic's traceback: the cause is nearly always access or a server.
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StorageError(
            f"cannot open or migrate the database {engine.url.render_as_string()}: {reason}"
        ) from exc


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in the database (alembic_version); None for a database without
    one. Read without Alembic, so a start-up on an up-to-date database never imports it."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})  # a reader: no write lock (SQLite)
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    return str(rows[0][0]) if len(rows) == 1 else None
