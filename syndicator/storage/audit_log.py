"""Reading and verifying the audit trail; recording events that stand alone."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from syndicator.audit import (
    SEAL_KIND,
    AuditEvent,
    VerifyResult,
    event_hash,
    key_id,
    verify_chain,
    verify_from,
)
from syndicator.errors import StorageError
from syndicator.storage.base import _LAST_AUDIT, AUDIT_COLUMNS, StorageBase, put_value
from syndicator.storage.models import ApprovalValueRow, AuditRow


@dataclass(frozen=True, slots=True)
class _Checkpoint:
    result: VerifyResult  # the last good verification: head and counts
    walked_at: datetime | None  # when the last whole walk that reached the end began
    walking_since: datetime | None  # a whole walk under way (in steps) began then


CHECKPOINT_KEY = "audit:verified"  # approval_values: the last good verification (JSON)
# The whole trail is walked again this often (an edit to an old row is caught within it); in
# between, each verification reads only the rows added since the last one.
FULL_VERIFY_EVERY = timedelta(days=1)


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
        self,
        since: datetime | None = None,
        kinds: list[str] | None = None,
        *,
        after_id: int | None = None,
    ) -> Iterator[AuditEvent]:
        """Stream events in chain order (constant memory)."""
        # Plain rows, not ORM objects: a verification walks every row, and building an ORM
        # object per row was half of its CPU (a restarted daemon verifies while it polls).
        query = select(*AUDIT_COLUMNS).order_by(AuditRow.id).execution_options(yield_per=1000)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if after_id is not None:
            query = query.where(AuditRow.id > after_id)
        if kinds:
            query = query.where(AuditRow.kind.in_(kinds))
        try:
            with self.reader.connect() as conn:
                for row in conn.execute(query):
                    yield AuditEvent(*row)
        except SQLAlchemyError as exc:
            raise StorageError(f"database read failed: {exc}") from exc

    def verify_audit(self, anchor: tuple[int, str] | None = None) -> VerifyResult:
        """Check the chain with this storage's key; with `anchor` (id, hash), catch truncation."""
        return verify_chain(self.audit_events(), key=self.audit_key, anchor=anchor)

    def verify_audit_step(
        self,
        now: datetime,
        full_every: timedelta = FULL_VERIFY_EVERY,
        max_rows: int | None = None,
    ) -> VerifyResult:
        """What the daemon runs every `verify_every`: only the rows added since the last good
        verification, and the whole trail again once `full_every` has passed since the last
        whole walk began (or when nothing was verified yet, or the last answer was a break).

        The checkpoint (the last good head, its counts, when the last whole walk began) is a
        row of `approval_values`, shared by every daemon on the database and kept across
        restarts, so a restarted daemon does not walk the whole trail again while its first
        poll runs (issue 11: that was most of a restart's CPU). Someone with the database but
        not the key can move or delete the checkpoint; that only makes the next step a whole
        walk, since the rows after it must still carry the key's HMAC. The checkpoint row itself
        must still be there with its hash: a trail cut or re-chained below it is caught at once.

        With `max_rows`, one step reads at most that many rows and the answer says `pending`
        when more are left: the caller comes back soon, so a long backlog (a whole walk, or a
        restart after a busy hour) never lands in one bite while the daemon is busy.
        """
        saved = self._checkpoint()
        if saved is None or (
            saved.walking_since is None
            and (saved.walked_at is None or now - saved.walked_at >= full_every)
        ):
            # A whole walk begins: from the first row, with nothing assumed.
            saved = _Checkpoint(VerifyResult(True, 0), saved.walked_at if saved else None, now)
        head = saved.result.head
        if head is not None:
            with self._read() as session:
                stored = session.scalar(select(AuditRow.hash).where(AuditRow.id == head[0]))
            if stored != head[1]:
                self.delete_audit_checkpoint()
                what = "is missing" if stored is None else "has another hash"
                return VerifyResult(
                    False, saved.result.checked, head[0],
                    f"row {head[0]}, verified before, {what}: the trail was cut or re-chained "
                    "since",
                )  # fmt: skip
        read = [0]

        def counted() -> Iterator[AuditEvent]:
            for event in self.audit_events(after_id=head[0] if head else None):
                if max_rows is not None and read[0] >= max_rows:
                    return
                read[0] += 1
                yield event

        result = verify_from(counted(), self.audit_key, saved.result)
        if not result.ok:
            self.delete_audit_checkpoint()
            return result
        pending = max_rows is not None and read[0] >= max_rows
        walked_at, walking_since = saved.walked_at, saved.walking_since
        if not pending and walking_since is not None:  # the whole walk reached the end
            if self.audit_key is not None and result.legacy and not result.keyed:
                self.delete_audit_checkpoint()
                return verify_chain(self.audit_events(), key=self.audit_key)  # names the cause
            walked_at, walking_since = walking_since, None
        if result.head is not None:
            self._save_checkpoint(_Checkpoint(result, walked_at, walking_since), now)
        return dataclasses.replace(result, pending=pending)

    def _checkpoint(self) -> _Checkpoint | None:
        with self._read() as session:
            row = session.get(ApprovalValueRow, CHECKPOINT_KEY)
            raw = row.value if row is not None else None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            head = (int(data["id"]), str(data["hash"]))
            legacy, keyed = int(data["legacy"]), int(data["keyed"])
            result = VerifyResult(True, legacy + keyed, None, None, legacy, keyed, head)
            walked = data.get("walked_at")
            walking = data.get("walking_since")
            if walked is None and walking is None:
                return None
            return _Checkpoint(
                result,
                datetime.fromisoformat(walked) if walked else None,
                datetime.fromisoformat(walking) if walking else None,
            )
        except (TypeError, ValueError, KeyError):
            return None  # none yet, or unreadable: walk the whole trail

    def _save_checkpoint(self, checkpoint: _Checkpoint, now: datetime) -> None:
        result = checkpoint.result
        assert result.head is not None
        value = json.dumps({
            "id": result.head[0], "hash": result.head[1], "legacy": result.legacy,
            "keyed": result.keyed,
            "walked_at": checkpoint.walked_at.isoformat() if checkpoint.walked_at else None,
            "walking_since": (
                checkpoint.walking_since.isoformat() if checkpoint.walking_since else None
            ),
        })  # fmt: skip
        with self._write() as session:
            put_value(session, CHECKPOINT_KEY, value, now)

    def delete_audit_checkpoint(self) -> None:
        """Make the next `verify_audit_step` walk the whole trail."""
        with self._write() as session:
            row = session.get(ApprovalValueRow, CHECKPOINT_KEY)
            if row is not None:
                session.delete(row)

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
