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
# An audit event as the storage verbs append it: (kind, actor, subject, data).
Event = tuple[str, str, str | None, Mapping[str, Any] | None]


class StorageBase:
    def __init__(self, engine: Engine, audit_key: bytes | None = None) -> None:
        self.engine = engine
        # HMAC key of the audit chain; never stored in the database (see syndicator/audit.py).
        self.audit_key = audit_key
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Same pool; transactions begun through it are plain reads (SQLite: deferred BEGIN).
        self.reader = engine.execution_options(**{READ_ONLY: True})
        self._read_sessions = sessionmaker(self.reader, expire_on_commit=False)
        # Per thread: the session of a reading() block in progress.
        self._local = threading.local()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One write transaction holding the writer lock; commits or rolls back as a whole."""
        if getattr(self._local, "conn", None) is not None:
            # Its own connection would wait for the lock this thread holds (writing()).
            raise RuntimeError("a Session write inside storage.writing(): Core writes only")
        try:
            with self._sessions() as session, session.begin():
                take_writer_lock(session.connection())
                yield session
        except SQLAlchemyError as exc:
            raise StorageError(f"database write failed: {exc}") from exc

    @contextmanager
    def _write_core(self) -> Iterator[Connection]:
        """_write for Core-only work: a bare connection, without a Session's bookkeeping.
        Inside writing(), the shared transaction's connection (committed at its end)."""
        shared = getattr(self._local, "conn", None)
        if shared is not None:
            yield shared
            return
        try:
            with self.engine.begin() as conn:
                take_writer_lock(conn)
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"database write failed: {exc}") from exc

    @contextmanager
    def writing(self) -> Iterator[None]:
        """The Core writes made inside, on this thread, share one write transaction: committed
        together at the end, or rolled back together if anything inside raises. For a caller
        that stores many small things at once (the changed feeds of a poll tick,
        Poller._ingest_many): one BEGIN, one COMMIT and one hand-off instead of one each.
        A Session write inside raises (it would wait for this very lock)."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._write_core() as conn:
            self._local.conn, self._local.audit, self._local.finish = conn, [], []
            try:
                yield
                for finish in self._local.finish:  # work left for the end (batch_lookups)
                    finish()
                # The audit events deferred inside (_audit_soon): one chain read, one insert.
                self._append_audit(conn, self._local.audit)
            finally:
                self._local.conn, self._local.audit, self._local.finish = None, None, None

    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            shared = getattr(self._local, "session", None)
            if shared is not None:  # inside reading(): its session
                yield shared
                return
            with self._read_sessions() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StorageError(f"database read failed: {exc}") from exc

    @contextmanager
    def _read_conn(self) -> Iterator[Connection]:
        """A bare connection for a Core read (no Session bookkeeping for a per-tick query);
        inside reading(), its session's connection."""
        shared = getattr(self._local, "session", None)
        if shared is not None:
            yield shared.connection()
            return
        with self.reader.connect() as conn:
            yield conn

    def _read_rows(self, query: Any, params: dict[str, Any], *, scalars: bool = True) -> Any:
        """A Core read on a bare connection (no Session bookkeeping for a per-second query)."""
        try:
            with self._read_conn() as conn:
                result = conn.execute(query, params)
                return result.scalars().all() if scalars else result.all()
        except SQLAlchemyError as exc:
            raise StorageError(f"database read failed: {exc}") from exc

    @contextmanager
    def reading(self) -> Iterator[None]:
        """The reads made inside, on this thread, share one session: one pooled connection,
        one transaction (one view of the database) instead of one each. For a caller that
        makes several reads at once every tick, such as the health snapshot. Only for reads:
        a write inside goes through its own connection, and the reads after it would not see
        it (the shared transaction began before)."""
        if getattr(self._local, "session", None) is not None:
            yield
            return
        try:
            with self._read_sessions() as session:
                self._local.session = session
                try:
                    yield
                finally:
                    self._local.session = None
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

    def _audit_soon(self, conn: Connection, events: Sequence[Event], now: datetime) -> None:
        """_audit_many, or inside writing() appended with the other writes' events at its end
        (in the order given: the chain is the same as if each had appended its own)."""
        pending = getattr(self._local, "audit", None)
        if pending is not None and conn is self._local.conn:
            pending.extend((now, *event) for event in events)
        else:
            self._audit_many(conn, events, now)

    def _audit_many(
        self, session: Session | Connection, events: Sequence[Event], now: datetime
    ) -> list[AuditEvent]:
        return self._append_audit(session, [(now, *event) for event in events])

    def _append_audit(
        self,
        session: Session | Connection,
        events: Sequence[tuple[datetime, str, str, str | None, Mapping[str, Any] | None]],
    ) -> list[AuditEvent]:
        """Chain these (time, kind, actor, subject, data) events after the last one."""
        if not events:
            return []
        last = session.execute(_LAST_AUDIT).first()
        next_id, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        out: list[AuditEvent] = []
        rows: list[dict[str, Any]] = []
        for now, kind, actor, subject, data in events:
            at = now.astimezone(UTC).replace(microsecond=0)
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
