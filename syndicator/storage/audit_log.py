"""Reading and verifying the audit trail; recording events that stand alone."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from syndicator.audit import SEAL_KIND, AuditEvent, VerifyResult, event_hash, key_id, verify_chain
from syndicator.storage.base import _LAST_AUDIT, StorageBase, audit_event
from syndicator.storage.models import AuditRow


class AuditMixin(StorageBase):
    def record_event(
        self,
        kind: str,
        *,
        actor: str,
        subject: str | None = None,
        data: Mapping[str, Any] | None = None,
        now: datetime,
    ) -> AuditEvent:
        """Append an event that is not part of another change (e.g. a refused tap)."""
        with self._write() as session:
            return self._audit(session, kind, actor=actor, subject=subject, data=data, now=now)

    def audit_events(
        self, since: datetime | None = None, kinds: list[str] | None = None
    ) -> Iterator[AuditEvent]:
        """Stream events in chain order (constant memory)."""
        query = select(AuditRow).order_by(AuditRow.id).execution_options(yield_per=1000)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if kinds:
            query = query.where(AuditRow.kind.in_(kinds))
        with self._read() as session:
            for row in session.scalars(query):
                yield audit_event(row)

    def verify_audit(self, anchor: tuple[int, str] | None = None) -> VerifyResult:
        """Check the chain with this storage's key; with `anchor` (id, hash), catch truncation."""
        return verify_chain(self.audit_events(), key=self.audit_key, anchor=anchor)

    def audit_head(self) -> tuple[int, str] | None:
        """The newest row's (id, hash): the anchor printed in reports, exports and the bot."""
        with self._read() as session:
            last = session.execute(_LAST_AUDIT).first()
            return (int(last[0]), str(last[1])) if last else None

    def seal_legacy_trail(self, now: datetime) -> AuditEvent | None:
        """Start the keyed segment when a key is set and the trail still ends unkeyed.

        The seal row's HMAC covers the last legacy hash, so the legacy rows can no longer be
        changed without the key either. Idempotent: a trail already ending keyed is left alone.
        """
        if self.audit_key is None:
            return None
        with self._write() as session:
            last = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(1)).first()
            if last is None:
                return None  # an empty trail starts keyed by itself
            plain = event_hash(
                last.prev_hash, last.id, last.at, last.kind, last.actor, last.subject, last.data
            )
            if plain != last.hash:
                return None  # ends keyed (or is damaged: `audit verify` reports that)
            return self._audit(
                session,
                SEAL_KIND,
                actor="storage",
                subject="audit",
                data={"legacy_rows_until": last.id, "key_id": key_id(self.audit_key)},
                now=now,
            )
