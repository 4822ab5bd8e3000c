"""The hash chain behind the audit trail: canonical form, hashing, verification, export.

Each event's hash is SHA-256 over the previous hash and the event's canonical JSON (id, time,
kind, actor, subject, data). Editing, deleting or reordering any row breaks the chain at that row.
Storage appends events inside the transaction of the change they record.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
_SECRET_KEYS = ("token", "secret", "password", "passphrase", "access_key", "api_key")
REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    at: datetime
    kind: str
    actor: str
    subject: str | None
    data: str  # canonical JSON
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.astimezone(UTC).isoformat(),
            "kind": self.kind,
            "actor": self.actor,
            "subject": self.subject,
            "data": json.loads(self.data),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def scrub(data: Any) -> Any:
    """Drop secret-looking values so a token can never enter the trail."""
    if isinstance(data, Mapping):
        out = {}
        for key, value in data.items():
            lowered = str(key).lower()
            if any(word in lowered for word in _SECRET_KEYS) and not lowered.endswith(
                ("_state", "_hash", "_id", "_count")
            ):
                out[str(key)] = REDACTED
            else:
                out[str(key)] = scrub(value)
        return out
    if isinstance(data, list | tuple | set | frozenset):
        return [scrub(v) for v in (sorted(data) if isinstance(data, set | frozenset) else data)]
    if isinstance(data, datetime):
        return data.astimezone(UTC).isoformat()
    return data


def canonical_data(data: Mapping[str, Any] | None) -> str:
    return json.dumps(scrub(data or {}), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_hash(
    prev_hash: str, id: int, at: datetime, kind: str, actor: str, subject: str | None, data: str
) -> str:
    body = json.dumps(
        [id, _ts(at), kind, actor, subject, data], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _ts(at: datetime) -> str:
    # Microseconds are dropped: PostgreSQL and SQLite must give back exactly what was hashed.
    return at.astimezone(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    bad_id: int | None = None
    reason: str | None = None


def verify_chain(events: Iterable[AuditEvent]) -> VerifyResult:
    """Walk the chain in id order; name the first row that does not fit."""
    prev_hash, expected_id, checked = GENESIS, None, 0
    for event in events:
        if expected_id is not None and event.id != expected_id:
            return VerifyResult(
                False,
                checked,
                event.id,
                f"row {event.id} follows row {expected_id - 1}: "
                f"{'rows are missing' if event.id > expected_id else 'out of order'}",
            )
        if event.prev_hash != prev_hash:
            return VerifyResult(
                False,
                checked,
                event.id,
                f"row {event.id}: prev_hash does not match the hash of the row before it "
                "(a row was deleted, inserted or reordered)",
            )
        computed = event_hash(
            event.prev_hash, event.id, event.at, event.kind, event.actor, event.subject, event.data
        )
        if computed != event.hash:
            return VerifyResult(
                False,
                checked,
                event.id,
                f"row {event.id}: content does not match its hash (edited)",
            )
        prev_hash, expected_id, checked = event.hash, event.id + 1, checked + 1
    return VerifyResult(True, checked)


def export_jsonl(events: Iterable[AuditEvent]) -> Iterator[str]:
    for event in events:
        yield json.dumps(event.as_dict(), ensure_ascii=False) + "\n"


def export_csv(events: Iterable[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "at", "kind", "actor", "subject", "data", "prev_hash", "hash"])
    yield buffer.getvalue()
    for event in events:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            [
                event.id,
                _ts(event.at),
                event.kind,
                event.actor,
                event.subject or "",
                event.data,
                event.prev_hash,
                event.hash,
            ]
        )
        yield buffer.getvalue()
