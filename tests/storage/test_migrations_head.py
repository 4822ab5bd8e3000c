"""Start-up skips Alembic for a database already at the newest migration, and only then."""

from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory

from syndicator.storage import open_storage
from syndicator.storage.engine import HEAD, alembic_config, current_revision, make_engine, upgrade


def test_head_is_alembics_head(sqlite_url: str) -> None:
    """engine.HEAD must name the newest migration: a new migration updates it (else a
    database one migration behind would be taken as up to date)."""
    engine = make_engine(sqlite_url)
    assert ScriptDirectory.from_config(alembic_config(engine)).get_current_head() == HEAD


def test_an_older_database_is_still_migrated(db_url: str) -> None:
    """A database behind HEAD goes through Alembic as before, on both backends."""
    engine = make_engine(db_url)
    assert current_revision(engine) is None  # new: Alembic decides
    upgrade(engine, "0010")
    assert current_revision(engine) == "0010"
    upgrade(engine)
    assert current_revision(engine) == HEAD
    engine.dispose()


def test_an_up_to_date_database_opens_without_alembic(sqlite_url: str) -> None:
    """In a fresh process (as the daemon and every CLI command start), opening a database at
    HEAD does not import Alembic (nor Mako): ~11 MB of resident memory (issue 11)."""
    open_storage(sqlite_url).close()
    code = (
        "import sys\n"
        "from syndicator.storage import open_storage\n"
        f"open_storage({sqlite_url!r}).close()\n"
        "print(sorted(m for m in ('alembic', 'mako') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
