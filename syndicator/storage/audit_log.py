"""Reading and verifying the audit trail; recording events that stand alone."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from syndicator.audit import AuditEvent, VerifyResult, verify_chain
from syndicator.storage.base import StorageBase, audit_event
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

    def verify_audit(self) -> VerifyResult:
        return verify_chain(self.audit_events())
