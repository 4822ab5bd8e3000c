"""Operator commands: `db backup PATH` (registered by ingest.py under `db`) and `health`.

A backup must be safe to take while the daemon runs, so it uses SQLite's online backup API
(one read transaction: a consistent snapshot; WAL mode lets writers carry on meanwhile), writes
to a temporary file beside the target, checks the copy (integrity_check, the schema revision,
the audit chain) and only then renames it into place. A half-written or corrupt file never
sits at PATH.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from syndicator.cli.common import Context
from syndicator.errors import ConfigError, StorageError


def register(sub: Any) -> None:
    p = sub.add_parser("health", help="run the /healthz checks against the database and print them")
    p.set_defaults(handler=health)


def add_backup_parser(db_sub: Any) -> None:
    """Called by ingest.register for the existing `db` group."""
    p = db_sub.add_parser(
        "backup", help="copy the SQLite database consistently (safe while the daemon runs)"
    )
    p.add_argument("path", metavar="PATH", help="the backup file to write")
    p.add_argument("--force", action="store_true", help="replace PATH if it exists")
    p.set_defaults(handler=db_backup)


# -- db backup --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    bytes: int
    revision: str | None
    tables: dict[str, int]
    audit_ok: bool
    audit_checked: int


def db_backup(ctx: Context) -> int:
    url = make_url(ctx.settings.database.url)
    target = Path(ctx.args.path)
    if url.get_backend_name() != "sqlite":
        print(postgres_advice(ctx.settings.database.url, target), file=sys.stderr)
        return 1
    source = Path(url.database or "")
    if not url.database or url.database == ":memory:":
        raise ConfigError("database.url: an in-memory SQLite database cannot be backed up")
    report = backup_sqlite(source, target, overwrite=ctx.args.force)
    counts = ", ".join(f"{k} {v}" for k, v in report.tables.items())
    print(f"backup written: {report.path} ({report.bytes} bytes, revision {report.revision})")
    print(f"integrity: ok; {counts}; audit chain ok ({report.audit_checked} events)")
    return 0


def backup_sqlite(source: Path, target: Path, *, overwrite: bool = False) -> BackupReport:
    """Snapshot `source` into `target` and verify the copy; raise StorageError on any problem."""
    if not source.exists():
        raise StorageError(f"database file {source} does not exist")
    if target.exists() and not overwrite:
        raise StorageError(f"{target} exists; choose another name or pass --force")
    if target.resolve() == source.resolve():
        raise StorageError("the backup path is the database itself")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(partial)
        try:
            # pages=-1: the whole database in one step, inside one read transaction. Copying in
            # steps would restart from scratch whenever the daemon writes in between.
            src.backup(dst, pages=-1)
            check = dst.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                raise StorageError(f"the copy failed integrity_check: {check[:5]}")
        finally:
            src.close()
            dst.close()
        report = verify_copy(partial, target)
        # Last, because opening through storage switches the copy to WAL: make it one
        # standalone file, with no -wal beside it to forget when it is copied elsewhere.
        dst = sqlite3.connect(partial)
        try:
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)
        report = dataclasses.replace(report, bytes=target.stat().st_size)
    except sqlite3.Error as exc:
        raise StorageError(f"backup of {source} failed: {exc}") from exc
    finally:
        for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)
    return report


def verify_copy(copy: Path, final: Path) -> BackupReport:
    """Open the copy through storage and check that it is a usable syndicator database."""
    from syndicator.storage import open_storage
    from syndicator.storage.engine import current_revision

    storage = open_storage(f"sqlite:///{copy}", migrate=False)
    try:
        revision = current_revision(storage.engine)
        if revision is None:
            raise StorageError("the copy has no schema revision: is this a syndicator database?")
        result = storage.verify_audit()
        if not result.ok:
            raise StorageError(
                f"the audit chain in the copy is broken at event {result.bad_id}: {result.reason}"
            )
        with storage.engine.connect() as conn:
            tables = {
                name: int(conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar() or 0)
                for name in ("articles", "posts", "audit_events")
                if _has_table(conn, name)
            }
    finally:
        storage.close()
    return BackupReport(final, copy.stat().st_size, revision, tables, result.ok, result.checked)


def _has_table(conn: Any, name: str) -> bool:
    row = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).first()
    return row is not None


def postgres_advice(database_url: str, target: Path) -> str:
    """What to run instead; the URL is shown without its password."""
    # libpq wants plain postgresql://, not SQLAlchemy's postgresql+psycopg://
    # (URL.set(password=None) would keep the password: None there means "unchanged".)
    url = make_url(database_url)
    safe = URL.create(
        "postgresql", username=url.username, host=url.host, port=url.port,
        database=url.database, query=url.query,
    ).render_as_string(hide_password=False)  # fmt: skip
    return (
        "db backup copies SQLite databases only; this one is PostgreSQL.\n"
        "Use pg_dump (it is consistent while the daemon runs), with the password in PGPASSWORD\n"
        "or ~/.pgpass rather than on the command line:\n\n"
        f"  pg_dump --format=custom --file {target} '{safe}'\n\n"
        "Restore into an empty database, with the daemon stopped:\n\n"
        f"  pg_restore --clean --if-exists --no-owner --dbname '{safe}' {target}\n\n"
        "then `syndicator audit verify`. See docs/operations.md, section Backup and restore."
    )


# -- check-config ---------------------------------------------------------------------------


def environment_checks(settings: Any) -> list[tuple[bool, str]]:
    """What check-config says about the environment: (ok, line) for the secret key and proxy."""
    from syndicator import secretbox
    from syndicator.network import plan_for

    lines: list[tuple[bool, str]] = []
    try:
        key = secretbox.passphrase()
    except ConfigError as exc:
        lines.append((False, f"secret key: {exc}"))
    else:
        if key is not None:
            lines.append((True, f"secret key: {secretbox.ENV} set; stored tokens are encrypted"))
        elif settings.security.allow_plaintext_tokens:
            lines.append((True, f"secret key: {secretbox.ENV} unset; tokens stored in plain text "
                                "([security] allow_plaintext_tokens = true)"))  # fmt: skip
        else:
            try:
                secretbox.require_key(False)
            except ConfigError as exc:
                lines.append((False, f"secret key: {exc}"))
    lines.append((True, f"proxy: {plan_for(settings).describe()}"))
    return lines


# -- health -------------------------------------------------------------------------------------


def health(ctx: Context) -> int:
    """The /healthz verdict from the database alone (last poll = newest source success).

    What only a running daemon knows (task crashes, Telegram reachability) is not in it; the
    audit chain is verified here, once, instead of read from the daemon's last check.
    """
    import daemon
    from syndicator.metrics import Metrics
    from syndicator.server import HealthServer

    settings = ctx.settings
    storage = ctx.storage
    server_settings = settings.server.model_copy(update={"listen": "127.0.0.1:0"})

    def last_poll() -> datetime | None:
        checks = [s.last_success_at for s in storage.source_states().values() if s.last_success_at]
        newest = max(checks, default=None)
        return newest if newest is None or newest.tzinfo else newest.replace(tzinfo=UTC)

    verified = storage.verify_audit()
    audit = (verified.ok, None if verified.ok else f"broken at event {verified.bad_id}: "
             f"{verified.reason} (syndicator audit verify)")  # fmt: skip
    server = HealthServer(
        server_settings, storage, Metrics(), lambda: ctx.now, last_poll,
        channels=list(settings.channels), pacing=daemon.channel_settings(settings),
        sources=[s.id for s in settings.sources if s.enabled], audit=lambda: audit,
    )  # fmt: skip
    # A one-off check has no start-up grace: a database that was never polled is stale.
    server.started_at = datetime.min.replace(tzinfo=UTC)
    result = asyncio.run(server.check())
    print(json.dumps(result.body, ensure_ascii=False, indent=2))
    return 0 if result.healthy else 1
