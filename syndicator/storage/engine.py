"""Engine creation, SQLite pragmas, the writer lock and Alembic migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).parent / "migrations"
# Every writer takes this lock first, so audit rows get contiguous ids and one hash chain even
# with several daemons on one PostgreSQL database.
WRITER_LOCK_KEY = 0x5359_4E44  # "SYND"


# Execution option marking a connection that only reads (see _sqlite_pragmas).
READ_ONLY = "syndicator_read_only"


def make_engine(url: str, busy_timeout_s: float = 30.0) -> Engine:
    """Build an engine: SQLite file in WAL mode with a busy timeout, or PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
            poolclass=NullPool if database in ("", ":memory:") else None,
        )
        _sqlite_pragmas(engine, busy_timeout_s)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


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


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
