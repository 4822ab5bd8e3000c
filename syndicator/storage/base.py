"""The transaction helper and audit appends shared by every storage area."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from syndicator.audit import GENESIS, AuditEvent, canonical_data, event_hash
from syndicator.errors import StorageError
from syndicator.storage.engine import READ_ONLY, take_writer_lock
from syndicator.storage.models import ApprovalValueRow, AuditRow

_LAST_AUDIT = select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)
# AuditEvent's fields, in its order: reads that walk many rows select these and build the
# events from plain rows (an ORM object per row was half the cost of a verification).
AUDIT_COLUMNS = (
    AuditRow.id, AuditRow.at, AuditRow.kind, AuditRow.actor, AuditRow.subject, AuditRow.data,
    AuditRow.prev_hash, AuditRow.hash,
)  # fmt: skip
_AUDIT = cast(Table, AuditRow.__table__)


class StorageBase:
    def __init__(self, engine: Engine, audit_key: bytes | None = None) -> None:
        self.engine = engine
        # HMAC key of the audit chain; never stored in the database (see syndicator/audit.py).
        self.audit_key = audit_key
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Same pool; transactions begun through it are plain reads (SQLite: deferred BEGIN).
        self.reader = engine.execution_options(**{READ_ONLY: True})
        self._read_sessions = sessionmaker(self.reader, expire_on_commit=False)
        # This thread's open batch() connection, if any.
        self._local = threading.local()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One write transaction holding the writer lock; commits or rolls back as a whole.
        Inside `batch()`, a savepoint of the batch's transaction instead."""
        try:
            batch = self._batch_conn()
            if batch is not None:  # a savepoint of the batch's transaction
                with Session(bind=batch, join_transaction_mode="create_savepoint") as session:
                    yield session
                    session.commit()  # releases its savepoint; the batch commits
                return
            with self._sessions() as session, session.begin():
                take_writer_lock(session.connection())
                yield session
        except SQLAlchemyError as exc:
            raise StorageError(f"database write failed: {exc}") from exc

    @contextmanager
    def _write_core(self) -> Iterator[Connection]:
        """_write for Core-only work: a bare connection, without a Session's bookkeeping."""
        try:
            batch = self._batch_conn()
            if batch is not None:  # joins the batch's transaction (and its savepoint)
                yield batch
                return
            with self.engine.begin() as conn:
                take_writer_lock(conn)
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"database write failed: {exc}") from exc

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One write transaction for the storage calls made inside it on this thread: their
        writes (`_write`, `_write_core`) and Core reads (`_read_core`) join it, and commit
        together at the end (ingest_batch.py: one transaction for the changed feeds of a
        moment, not one each). Wrap each unit in `savepoint()` so a failed one is rolled back
        alone (on PostgreSQL a failed statement spoils the whole transaction otherwise).
        Nested, it joins the outer batch."""
        if self._batch_conn() is not None:
            yield
            return
        try:
            with self.engine.begin() as conn:
                take_writer_lock(conn)
                self._local.batch = conn
                try:
                    yield
                finally:
                    self._local.batch = None
        except SQLAlchemyError as exc:
            raise StorageError(f"database write failed: {exc}") from exc

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside `batch()`: a unit rolled back alone when it raises. Outside: nothing."""
        batch = self._batch_conn()
        if batch is None:
            yield
            return
        try:
            with batch.begin_nested():
                yield
        except SQLAlchemyError as exc:
            raise StorageError(f"database write failed: {exc}") from exc

    @contextmanager
    def _read_core(self) -> Iterator[Connection]:
        """A connection for a Core read: this thread's batch transaction when one is open (it
        sees the batch's own writes, and costs no second connection), else a reader's."""
        batch = self._batch_conn()
        if batch is not None:
            yield batch
            return
        try:
            with self.reader.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"database read failed: {exc}") from exc

    def _batch_conn(self) -> Connection | None:
        return getattr(self._local, "batch", None)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with self._read_sessions() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StorageError(f"database read failed: {exc}") from exc

    def _audit(
        self,
        session: Session,
        kind: str,
        *,
        actor: str,
        subject: str | None,
        data: Mapping[str, Any] | None,
        now: datetime,
    ) -> AuditEvent:
        """Append one chained audit row inside the caller's transaction."""
        return self._audit_many(session, [(kind, actor, subject, data)], now)[0]

    def _audit_many(
        self,
        session: Session | Connection,
        events: Sequence[tuple[str, str, str | None, Mapping[str, Any] | None]],
        now: datetime,
    ) -> list[AuditEvent]:
        if not events:
            return []
        last = session.execute(_LAST_AUDIT).first()
        next_id, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        at = now.astimezone(UTC).replace(microsecond=0)
        out: list[AuditEvent] = []
        rows: list[dict[str, Any]] = []
        for kind, actor, subject, data in events:
            body = canonical_data(data)
            digest = event_hash(prev, next_id, at, kind, actor, subject, body, self.audit_key)
            out.append(AuditEvent(next_id, at, kind, actor, subject, body, prev, digest))
            rows.append(
                {
                    "id": next_id,
                    "at": at,
                    "kind": kind,
                    "actor": actor,
                    "subject": subject,
                    "data": body,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev, next_id = digest, next_id + 1
        # One executemany through Core: ORM objects cost more than the hashing for big batches.
        session.execute(insert(_AUDIT), rows)
        return out


def audit_event(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        row.id, row.at, row.kind, row.actor, row.subject, row.data, row.prev_hash, row.hash
    )


def put_value(session: Session, key: str, value: str, now: datetime) -> None:
    """Insert or replace one `approval_values` row in the caller's transaction."""
    row = session.get(ApprovalValueRow, key)
    if row is None:
        session.add(ApprovalValueRow(key=key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now
