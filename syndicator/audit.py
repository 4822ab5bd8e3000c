"""The hash chain behind the audit trail: canonical form, keyed hashing, verification, export.

Each event's hash covers the previous hash and the event's canonical JSON (id, time, kind,
actor, subject, data). Editing, deleting or reordering any row breaks the chain at that row.
Storage appends events inside the transaction of the change they record.

Keyed chain: with an audit key (`SYNDICATOR_AUDIT_KEY`, else derived from
`SYNDICATOR_SECRET_KEY`) each hash is HMAC-SHA256 under that key, so someone holding only the
database cannot recompute the chain after changing a row. Trails written before the key existed
are plain SHA-256 ("legacy" rows); they stay valid as a prefix that the first keyed row seals
(`audit.keyed`), and no legacy row may follow a keyed one. The chain cannot see rows deleted
from its end: the head (`id`, `hash`) published outside the database is the anchor that can
(`verify_chain(..., anchor=)`). See docs/reports.md, "The anchored audit trail".
"""

from __future__ import annotations

import csv
import functools
import hashlib
import hmac
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
AUDIT_KEY_ENV = "SYNDICATOR_AUDIT_KEY"
SECRET_KEY_ENV = "SYNDICATOR_SECRET_KEY"
MIN_KEY_LENGTH = 16
SEAL_KIND = "audit.keyed"  # the first keyed row after a legacy (unkeyed) trail
_ANCHOR = re.compile(r"^\s*(\d+)\s*:\s*([0-9a-fA-F]{64})\s*$")
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
    if isinstance(data, dict | Mapping):
        return {str(k): REDACTED if _secret_key(str(k)) else scrub(v) for k, v in data.items()}
    if isinstance(data, list | tuple | set | frozenset):
        return [scrub(v) for v in (sorted(data) if isinstance(data, set | frozenset) else data)]
    if isinstance(data, datetime):
        return data.astimezone(UTC).isoformat()
    return data


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    # Cached: an event's keys are a handful of names, and every stored article and post
    # appends one (80,000 in a first poll of 2,000 feeds).
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_KEYS) and not lowered.endswith(
        ("_state", "_hash", "_id", "_count")
    )


# Built once: json.dumps builds an encoder per call when given options (the same text).
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
_HASHED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def canonical_data(data: Mapping[str, Any] | None) -> str:
    return _CANONICAL.encode(scrub(data or {}))


def audit_key_from_env(env: Mapping[str, str]) -> bytes | None:
    """The chain key: SYNDICATOR_AUDIT_KEY, else derived from SYNDICATOR_SECRET_KEY, else None.

    The derivation (HMAC of a fixed label under the secret) keeps the audit key distinct from
    the token-encryption key while needing no second secret. Raises ValueError when a value is
    too short to be a key (the caller turns it into a ConfigError naming the variable).
    """
    for name in (AUDIT_KEY_ENV, SECRET_KEY_ENV):
        value = env.get(name) or ""
        if not value:
            continue
        if len(value) < MIN_KEY_LENGTH:
            raise ValueError(f"{name} must be at least {MIN_KEY_LENGTH} characters long")
        if name == AUDIT_KEY_ENV:
            return value.encode("utf-8")
        return hmac.new(value.encode("utf-8"), b"syndicator audit chain v1", "sha256").digest()
    return None


def key_id(key: bytes) -> str:
    """A short public name of a key, stored in the seal row: tells "wrong key" from "edited"."""
    return hmac.new(key, b"syndicator audit key id", "sha256").hexdigest()[:16]


def event_hash(
    prev_hash: str,
    id: int,
    at: datetime,
    kind: str,
    actor: str,
    subject: str | None,
    data: str,
    key: bytes | None = None,
) -> str:
    """HMAC-SHA256 under `key`; plain SHA-256 (legacy, unkeyed) when there is no key."""
    body = _HASHED.encode([id, _ts(at), kind, actor, subject, data])
    message = (prev_hash + body).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.digest(key, message, "sha256").hex()  # one call, hmac.new's digest


def parse_anchor(text: str) -> tuple[int, str]:
    """`ID:HASH` as printed in reports and exports; ValueError naming the expected shape."""
    match = _ANCHOR.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an anchor of the form ID:HASH (64 hex digits)")
    return int(match.group(1)), match.group(2).lower()


def _ts(at: datetime) -> str:
    # Microseconds are dropped: PostgreSQL and SQLite must give back exactly what was hashed.
    return at.astimezone(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    bad_id: int | None = None
    reason: str | None = None
    legacy: int = 0  # unkeyed rows at the start of the trail (before the key existed)
    keyed: int = 0
    head: tuple[int, str] | None = None  # the last row verified (id, hash)
    pending: bool = False  # a step that stopped at its row budget: more rows wait (storage)


def verify_chain(
    events: Iterable[AuditEvent],
    key: bytes | None = None,
    anchor: tuple[int, str] | None = None,
) -> VerifyResult:
    """Walk the chain in id order; name the first row that does not fit.

    With `key`, a row must carry the HMAC under it, except a prefix of legacy SHA-256 rows that
    a keyed row seals. Without `key`, only legacy rows can be checked. With `anchor` (id, hash),
    the trail must contain that row with that hash: a shorter trail was truncated, another hash
    means the rows were re-chained.
    """
    state = _Walk(key)
    for event in events:
        problem = state.step(event)
        if problem is not None:
            return state.result(False, event.id, problem)
        if anchor is not None and event.id == anchor[0] and event.hash != anchor[1]:
            return state.result(
                False,
                event.id,
                f"row {event.id} has hash {event.hash[:16]}..., not the anchored "
                f"{anchor[1][:16]}...: the trail was rewritten since the anchor was published",
            )
    if key is not None and state.legacy and not state.keyed:
        return state.result(
            False,
            None,
            f"{state.legacy} unkeyed row(s) and no keyed row after them: with a key set, the "
            f"trail must be sealed by an {SEAL_KIND!r} row (opening the database does it)",
        )
    if anchor is not None and (state.head is None or state.head[0] < anchor[0]):
        last = f"row {state.head[0]}" if state.head else "no row at all"
        return state.result(
            False,
            None,
            f"the anchored row {anchor[0]} is missing: the trail ends at {last} "
            "(rows were deleted from its end)",
        )
    return state.result(True, None, None)


def verify_from(
    events: Iterable[AuditEvent], key: bytes | None, checkpoint: VerifyResult
) -> VerifyResult:
    """Go on from an earlier good result: `events` are the rows after `checkpoint.head`.

    The walk resumes with the checkpoint's hash as the previous one and its counts, so the
    answer is the one a walk of the whole trail would give as far as the new rows are concerned
    (and the unkeyed-after-keyed rule still holds). Rows before the checkpoint are not read
    again: the caller checks that the checkpoint row itself is still there with its hash, and
    re-walks the whole trail from time to time to catch an edit to an old row.
    """
    state = _Walk(key)
    if checkpoint.head is not None:
        state.head = checkpoint.head
        state.prev_hash, state.expected_id = checkpoint.head[1], checkpoint.head[0] + 1
    state.legacy, state.keyed = checkpoint.legacy, checkpoint.keyed
    for event in events:
        problem = state.step(event)
        if problem is not None:
            return state.result(False, event.id, problem)
    return state.result(True, None, None)


class _Walk:
    """The verifier's running state: previous hash, expected id, counts."""

    def __init__(self, key: bytes | None) -> None:
        self.key = key
        self.prev_hash: str = GENESIS
        self.expected_id: int | None = None
        self.legacy = self.keyed = 0
        self.head: tuple[int, str] | None = None

    def step(self, event: AuditEvent) -> str | None:
        if self.expected_id is not None and event.id != self.expected_id:
            gap = "rows are missing" if event.id > self.expected_id else "out of order"
            return f"row {event.id} follows row {self.expected_id - 1}: {gap}"
        if event.prev_hash != self.prev_hash:
            return (
                f"row {event.id}: prev_hash does not match the hash of the row before it "
                "(a row was deleted, inserted or reordered)"
            )
        args = (event.prev_hash, event.id, event.at, event.kind, event.actor, event.subject)
        if self.key is not None and event_hash(*args, event.data, self.key) == event.hash:
            self.keyed += 1
        elif event_hash(*args, event.data) == event.hash:
            if self.keyed:
                return (
                    f"row {event.id}: an unkeyed row after keyed ones (the chain was "
                    "recomputed without the key)"
                )
            self.legacy += 1
        else:
            return self._mismatch(event)
        self.prev_hash, self.expected_id = event.hash, event.id + 1
        self.head = (event.id, event.hash)
        return None

    def _mismatch(self, event: AuditEvent) -> str:
        if self.key is None:
            return (
                f"row {event.id}: content does not match its hash (edited, or a keyed row: "
                f"set {AUDIT_KEY_ENV} or {SECRET_KEY_ENV} to check keyed rows)"
            )
        if event.kind == SEAL_KIND:
            try:
                sealed_with = json.loads(event.data).get("key_id")
            except ValueError:
                sealed_with = None
            if sealed_with and sealed_with != key_id(self.key):
                return (
                    f"row {event.id}: the trail was keyed with another key "
                    f"(key id {sealed_with}, this key is {key_id(self.key)})"
                )
        return f"row {event.id}: content does not match its hash (edited, or re-chained)"

    def result(self, ok: bool, bad_id: int | None, reason: str | None) -> VerifyResult:
        checked = self.legacy + self.keyed
        return VerifyResult(ok, checked, bad_id, reason, self.legacy, self.keyed, self.head)


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
