"""ORM tables of approvers, their linked chat identities, one-time link codes and Zalo previews.

Kept apart from models.py so the approval surfaces can grow without touching the outbox tables;
they share its `Base`, so one metadata (and one Alembic history) covers everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from syndicator.storage.models import Base, BigId


class ApproverRow(Base):
    """A person who may decide; identities on chat surfaces are linked to it."""

    __tablename__ = "approvers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]  # kept, not deleted: old decisions still name them


class ApproverIdentityRow(Base):
    """One chat account (surface + user id) bound to an approver by a link code."""

    __tablename__ = "approver_identities"
    __table_args__ = (UniqueConstraint("surface", "user_id", name="uq_identity_surface_user"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    approver_id: Mapped[int] = mapped_column(BigId, ForeignKey("approvers.id"))
    surface: Mapped[str] = mapped_column(String(16))  # zalo_bot | telegram
    user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))  # where private previews go
    display_name: Mapped[str] = mapped_column(Text, default="")
    linked_at: Mapped[datetime]


class LinkCodeRow(Base):
    """A one-time code; only its SHA-256 is stored, so a database copy cannot link anyone."""

    __tablename__ = "approver_link_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    approver_id: Mapped[int] = mapped_column(BigId, ForeignKey("approvers.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(Text)  # "zalo_bot:<user id>"


class ZaloPreviewRow(Base):
    """One article's preview sent privately to one approver's Zalo chat (Zalo cannot edit it)."""

    __tablename__ = "zalo_previews"
    __table_args__ = (
        UniqueConstraint("article_id", "chat_id", name="uq_zalo_preview_article_chat"),
        Index("ix_zalo_previews_state", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(BigId, ForeignKey("articles.id"))
    approver_id: Mapped[int] = mapped_column(BigId, ForeignKey("approvers.id"))
    chat_id: Mapped[str] = mapped_column(String(64))
    revision: Mapped[str] = mapped_column(Text)  # payload-hash prefixes the preview showed
    parts: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the messages, as sent in order
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    message_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16))  # sending | open | closed
    note: Mapped[str | None] = mapped_column(String(16))  # last follow-up: decided | published
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
