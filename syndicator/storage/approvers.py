"""Approvers, their linked chat identities, one-time link codes, and Zalo preview messages.

An approver is a person (a name, maybe an admin). Chat accounts are bound to it by a code the
IT officer hands over (`syndicator approvers add`): the person sends the code to the bot, and
the code is redeemed in one compare-and-set (unused, unexpired), so it links exactly one
account once. Every step is audited. Only the code's SHA-256 is stored.

Zalo previews are rows per (article, approver chat): Zalo messages cannot be edited, so the row
remembers what was shown (the payload-hash prefixes, for the stale check), how many of its parts
went out (a failed send resumes at the next part instead of repeating the ones delivered), and
which follow-up note was sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from syndicator.errors import StorageError
from syndicator.storage.approver_models import (
    ApproverIdentityRow,
    ApproverRow,
    LinkCodeRow,
    ZaloPreviewRow,
)
from syndicator.storage.base import StorageBase
from syndicator.storage.models import PostRow
from syndicator.types import PostStatus

OPEN_STATUSES = (PostStatus.PENDING.value, PostStatus.HELD.value)


@dataclass(frozen=True, slots=True)
class Identity:
    """A chat account linked to an approver."""

    id: int
    approver_id: int
    approver_name: str
    is_admin: bool
    surface: str
    user_id: str
    chat_id: str
    display_name: str
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class Approver:
    id: int
    name: str
    is_admin: bool
    created_at: datetime
    removed_at: datetime | None
    identities: tuple[Identity, ...] = ()


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    """What redeeming a code did: linked | wrong | used | expired | removed."""

    status: str
    approver: Approver | None = None


@dataclass(frozen=True, slots=True)
class ZaloPreview:
    id: int
    article_id: int
    approver_id: int
    chat_id: str
    revision: str
    parts: tuple[dict[str, Any], ...]
    parts_sent: int
    message_ids: tuple[str, ...]
    state: str  # sending | open | closed
    note: str | None
    attempts: int
    next_try_at: datetime | None
    created_at: datetime


def code_hash(code: str) -> str:
    """Codes are compared case-insensitively, without spaces or dashes (people retype them)."""
    clean = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(clean.encode("ascii", "ignore")).hexdigest()


class ApproversMixin(StorageBase):
    # -- approvers ---------------------------------------------------------------------------

    def add_approver(self, name: str, *, is_admin: bool, actor: str, now: datetime) -> Approver:
        """Create an approver; StorageError when the name is taken by an active one."""
        name = " ".join(name.split())
        if not name:
            raise ValueError("the approver's name is empty")
        try:
            with self._write() as session:
                row = session.scalars(select(ApproverRow).where(ApproverRow.name == name)).first()
                if row is not None and row.removed_at is None:
                    raise StorageError(f"an approver named {name!r} already exists")
                if row is None:
                    row = ApproverRow(name=name, is_admin=is_admin, created_at=now)
                    session.add(row)
                else:  # re-adding a removed person keeps their id (old decisions name it)
                    row.removed_at, row.is_admin = None, is_admin
                session.flush()
                self._audit(session, "approver.added", actor=actor, subject=f"approver:{row.id}",
                            data={"name": name, "admin": is_admin}, now=now)  # fmt: skip
                return _approver(row, ())
        except IntegrityError as exc:  # pragma: no cover - a concurrent add of the same name
            raise StorageError(f"an approver named {name!r} already exists") from exc

    def issue_link_code(
        self, name: str, code: str, *, expires_at: datetime, actor: str, now: datetime
    ) -> Approver:
        """Store a fresh one-time code for an active approver (older unused codes stay valid)."""
        with self._write() as session:
            row = self._active(session, name)
            session.add(LinkCodeRow(approver_id=row.id, code_hash=code_hash(code),
                                    created_at=now, expires_at=expires_at))  # fmt: skip
            self._audit(session, "approver.code_issued", actor=actor,
                        subject=f"approver:{row.id}", data={"expires_at": expires_at}, now=now)  # fmt: skip
            return _approver(row, ())

    def remove_approver(self, name: str, *, actor: str, now: datetime) -> Approver:
        """Deactivate an approver: unlink every account and void unused codes."""
        with self._write() as session:
            row = self._active(session, name)
            row.removed_at = now
            idents = list(session.scalars(
                select(ApproverIdentityRow).where(ApproverIdentityRow.approver_id == row.id)))  # fmt: skip
            for ident in idents:
                session.delete(ident)
            session.execute(
                update(LinkCodeRow)
                .where(LinkCodeRow.approver_id == row.id, LinkCodeRow.used_at.is_(None))
                .values(used_at=now, used_by="removed")
            )
            self._audit(session, "approver.removed", actor=actor, subject=f"approver:{row.id}",
                        data={"name": row.name,
                              "unlinked": [f"{i.surface}:{i.user_id}" for i in idents]},
                        now=now)  # fmt: skip
            return _approver(row, ())

    def list_approvers(self, *, include_removed: bool = False) -> list[Approver]:
        with self._read() as session:
            rows = list(session.scalars(select(ApproverRow).order_by(ApproverRow.name)))
            idents = list(session.scalars(select(ApproverIdentityRow)))
            by_approver: dict[int, list[Identity]] = {}
            names = {row.id: row for row in rows}
            for ident in idents:
                by_approver.setdefault(ident.approver_id, []).append(
                    _identity(ident, names[ident.approver_id])
                )
            return [
                _approver(row, tuple(by_approver.get(row.id, ())))
                for row in rows
                if include_removed or row.removed_at is None
            ]

    def _active(self, session: Any, name: str) -> ApproverRow:
        name = " ".join(name.split())
        row = session.scalars(select(ApproverRow).where(ApproverRow.name == name)).first()
        if row is None or row.removed_at is not None:
            raise StorageError(f"no active approver named {name!r}")
        return row

    # -- linking -----------------------------------------------------------------------------

    def redeem_link_code(
        self, code: str, *, surface: str, user_id: str, chat_id: str, display_name: str,
        now: datetime,
    ) -> LinkOutcome:  # fmt: skip
        """Bind (surface, user_id) to the code's approver, once; every attempt is audited."""
        who = f"{surface}:{user_id} ({display_name})"
        with self._write() as session:
            row = session.scalars(
                select(LinkCodeRow).where(LinkCodeRow.code_hash == code_hash(code))
            ).first()
            approver = session.get(ApproverRow, row.approver_id) if row else None
            status = "linked"
            if row is None or approver is None:
                status = "wrong"
            elif row.used_at is not None:
                status = "used"
            elif row.expires_at <= now:
                status = "expired"
            elif approver.removed_at is not None:
                status = "removed"
            if status != "linked":
                self._audit(session, "approver.link_refused", actor=who,
                            subject=f"approver:{approver.id}" if approver else None,
                            data={"reason": status, "surface": surface}, now=now)  # fmt: skip
                return LinkOutcome(status)
            assert row is not None and approver is not None
            claimed = session.execute(
                update(LinkCodeRow)
                .where(LinkCodeRow.id == row.id, LinkCodeRow.used_at.is_(None))
                .values(used_at=now, used_by=f"{surface}:{user_id}")
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                return LinkOutcome("used")  # someone redeemed it a moment ago
            ident = session.scalars(select(ApproverIdentityRow).where(
                ApproverIdentityRow.surface == surface, ApproverIdentityRow.user_id == user_id,
            )).first()  # fmt: skip
            previous = ident.approver_id if ident else None
            if ident is None:
                ident = ApproverIdentityRow(surface=surface, user_id=user_id, linked_at=now)
                session.add(ident)
            ident.approver_id, ident.chat_id, ident.display_name = (
                approver.id,
                chat_id,
                display_name,
            )
            ident.linked_at = now
            session.flush()
            self._audit(session, "approver.linked", actor=who, subject=f"approver:{approver.id}",
                        data={"surface": surface, "user_id": user_id, "chat_id": chat_id,
                              "previous_approver": previous}, now=now)  # fmt: skip
            return LinkOutcome("linked", _approver(approver, (_identity(ident, approver),)))

    def find_identity(self, surface: str, user_id: str) -> Identity | None:
        """The active approver behind a chat account, or None."""
        query = (
            select(ApproverIdentityRow, ApproverRow)
            .join(ApproverRow, ApproverRow.id == ApproverIdentityRow.approver_id)
            .where(ApproverIdentityRow.surface == surface, ApproverIdentityRow.user_id == user_id)
            .where(ApproverRow.removed_at.is_(None))
        )
        with self._read() as session:
            found = session.execute(query).first()
            return _identity(found[0], found[1]) if found else None

    def linked_identities(self, surface: str) -> list[Identity]:
        query = (
            select(ApproverIdentityRow, ApproverRow)
            .join(ApproverRow, ApproverRow.id == ApproverIdentityRow.approver_id)
            .where(ApproverIdentityRow.surface == surface, ApproverRow.removed_at.is_(None))
            .order_by(ApproverIdentityRow.id)
        )
        with self._read() as session:
            return [_identity(i, a) for i, a in session.execute(query)]

    # -- Zalo previews -----------------------------------------------------------------------

    def open_article_ids(self, limit: int = 200) -> list[int]:
        """Articles with a post waiting for a human, oldest first."""
        query = (
            select(PostRow.article_id)
            .where(PostRow.status.in_(OPEN_STATUSES))
            .group_by(PostRow.article_id)
            .order_by(PostRow.article_id)
            .limit(limit)
        )
        with self._read() as session:
            return list(session.scalars(query))

    def zalo_preview_keys(self, article_ids: list[int]) -> set[tuple[int, str]]:
        """(article, chat) pairs that already have a preview row."""
        if not article_ids:
            return set()
        query = select(ZaloPreviewRow.article_id, ZaloPreviewRow.chat_id).where(
            ZaloPreviewRow.article_id.in_(article_ids)
        )
        with self._read() as session:
            return {(int(a), str(c)) for a, c in session.execute(query)}

    def claim_zalo_preview(
        self, article_id: int, approver_id: int, chat_id: str, *, revision: str,
        parts: list[dict[str, Any]], now: datetime,
    ) -> ZaloPreview | None:  # fmt: skip
        """Create the row before anything is sent; None when it exists (another tick won)."""
        try:
            with self._write() as session:
                row = ZaloPreviewRow(
                    article_id=article_id, approver_id=approver_id, chat_id=chat_id,
                    revision=revision, parts=parts, parts_sent=0, message_ids=[],
                    state="sending", attempts=0, created_at=now, updated_at=now,
                )  # fmt: skip
                session.add(row)
                session.flush()
                return _zalo_preview(row)
        except StorageError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                return None
            raise

    def zalo_previews(self, *, states: tuple[str, ...] = (), article_id: int | None = None,
                      chat_id: str | None = None) -> list[ZaloPreview]:  # fmt: skip
        query = select(ZaloPreviewRow).order_by(ZaloPreviewRow.id)
        if states:
            query = query.where(ZaloPreviewRow.state.in_(states))
        if article_id is not None:
            query = query.where(ZaloPreviewRow.article_id == article_id)
        if chat_id is not None:
            query = query.where(ZaloPreviewRow.chat_id == chat_id)
        with self._read() as session:
            return [_zalo_preview(row) for row in session.scalars(query)]

    def zalo_part_sent(self, preview_id: int, message_id: str, now: datetime) -> ZaloPreview:
        """Count one delivered part; the preview opens once its last part is out."""
        with self._write() as session:
            row = session.get(ZaloPreviewRow, preview_id)
            if row is None:
                raise StorageError(f"no Zalo preview {preview_id}")
            row.parts_sent += 1
            row.message_ids = [*row.message_ids, message_id]
            if row.parts_sent >= len(row.parts) and row.state == "sending":
                row.state = "open"
            row.next_try_at, row.last_error, row.updated_at = None, None, now
            return _zalo_preview(row)

    def zalo_preview_failed(
        self, preview_id: int, error: str, *, retry_at: datetime, now: datetime
    ) -> int:
        """Remember a failed send and when to try again; returns the attempt count."""
        with self._write() as session:
            row = session.get(ZaloPreviewRow, preview_id)
            if row is None:
                return 0
            row.attempts += 1
            row.last_error, row.next_try_at, row.updated_at = error[:500], retry_at, now
            return row.attempts

    def restart_zalo_preview(
        self, preview_id: int, *, revision: str, parts: list[dict[str, Any]], now: datetime
    ) -> None:
        """Queue a fresh version of a preview (the content changed): every part goes again."""
        with self._write() as session:
            session.execute(
                update(ZaloPreviewRow).where(ZaloPreviewRow.id == preview_id).values(
                    revision=revision, parts=parts, parts_sent=0, state="sending", attempts=0,
                    next_try_at=None, last_error=None, updated_at=now,
                )
            )  # fmt: skip

    def set_zalo_preview(
        self, preview_id: int, *, now: datetime, state: str | None = None,
        note: str | None = None, revision: str | None = None,
    ) -> None:  # fmt: skip
        values: dict[str, Any] = {"updated_at": now}
        for key, value in (("state", state), ("note", note), ("revision", revision)):
            if value is not None:
                values[key] = value
        with self._write() as session:
            session.execute(
                update(ZaloPreviewRow).where(ZaloPreviewRow.id == preview_id).values(**values)
            )


def _approver(row: ApproverRow, identities: tuple[Identity, ...]) -> Approver:
    return Approver(row.id, row.name, bool(row.is_admin), row.created_at, row.removed_at,
                    identities)  # fmt: skip


def _identity(row: ApproverIdentityRow, approver: ApproverRow) -> Identity:
    return Identity(
        row.id, row.approver_id, approver.name, bool(approver.is_admin), row.surface,
        row.user_id, row.chat_id, row.display_name, row.linked_at,
    )  # fmt: skip


def _zalo_preview(row: ZaloPreviewRow) -> ZaloPreview:
    return ZaloPreview(
        row.id, row.article_id, row.approver_id, row.chat_id, row.revision,
        tuple(row.parts or ()), row.parts_sent, tuple(str(m) for m in row.message_ids or ()),
        row.state, row.note, row.attempts, row.next_try_at, row.created_at,
    )  # fmt: skip
