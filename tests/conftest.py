"""Shared fixtures: real databases (SQLite file and PostgreSQL), a fixed clock, data paths."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from sqlalchemy import create_engine, text

from syndicator.storage import Storage, open_storage

DATA = Path(__file__).parent / "data"
PG_URL = os.environ.get("SYNDICATOR_TEST_PG_URL", "")
NOW = datetime(2025, 11, 14, 3, 0, tzinfo=UTC)


def _pg_reason() -> str | None:
    if not PG_URL:
        return (
            "no PostgreSQL: SYNDICATOR_TEST_PG_URL is unset (scripts/test.sh sets it after "
            "starting a server with scripts/ensure-postgres.sh)"
        )
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"no PostgreSQL at {PG_URL}: {type(exc).__name__}: {exc}"
    return None


_PG_SKIP = _pg_reason()


def reset_postgres(url: str) -> None:
    """Empty the test database so each test starts from migrations."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(autouse=True)
def fresh_logging() -> Iterator[None]:
    """A test that runs the CLI in-process configures logging onto pytest's captured stream,
    which is closed after that test: restore the defaults so later tests neither write to a
    closed file nor lose debug lines to an earlier level."""
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = []


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test (and the CLI/daemon subprocesses it starts) runs with a token key, as a
    configured server does: without one, storing a token is refused (issue 10, point 9).
    Tests of the keyless paths delete it."""
    key = "test-secret-key-0123456789abcdef"
    monkeypatch.setenv("SYNDICATOR_SECRET_KEY", key)
    return key


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/syndicator.db"
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file URL, for tests that need only one backend."""
    return f"sqlite:///{tmp_path}/syndicator.db"


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    """Migrated storage on each backend."""
    store = open_storage(db_url)
    yield store
    store.close()


@pytest.fixture
def now() -> datetime:
    """The fixed 'now' of the tests."""
    return NOW
