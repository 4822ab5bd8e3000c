"""ORM tables. These rows never leave the storage package; callers get frozen values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from syndicator.types import Article

# SQLite has no 64-bit autoincrement distinct from INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC; returns aware UTC on every backend (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; every datetime must be aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, straight to the text SQLAlchemy's DATETIME stores ("YYYY-MM-DD
        HH:MM:SS.ffffff", its default storage format): one call instead of this type's
        process_bind_param and then DATETIME's own %-formatting of a dict. Every poll record,
        claim and article binds several datetimes (issue 11). Same text, same checks."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if not isinstance(value, datetime):
                raise TypeError(f"SQLite DateTime type only accepts datetime objects: {value!r}")
            if value.tzinfo is None:
                raise ValueError("naive datetime given to storage; every datetime must be aware")
            if value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")

        return process


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class SourceRow(Base):
    """Stored polling state per configured source (the config holds the rest)."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    last_checked_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_at: Mapped[datetime | None]
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    created_at: Mapped[datetime]


class SourceMemoryRow(Base):
    """The poller's memory of a source's last stored document (migration 0011).

    Its own table, not a column of `sources` (0009 put it there): SQLite rewrites a whole row
    on any update, so ~3 KB of memory on the source row was rewritten by every claim and every
    304 record (issue 11). Written only when a changed document was stored, read only when a
    feed changed, and by the watcher (which articles are still in their feed).
    """

    __tablename__ = "source_memory"

    source_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    # JSON (sources/trim.py dump_memory): item hashes, entry digests, the stamp.
    memory: Mapped[str | None] = mapped_column(Text)
    # JSON (poll_memory.dump_members): the document's items in order, [item hash, guid] each.
    members: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class ArticleRow(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("source_id", "guid", name="uq_articles_source_guid"),
        Index("ix_articles_canonical_url", "canonical_url"),
        Index("ix_articles_fingerprint", "fingerprint"),
        Index("ix_articles_first_seen", "first_seen_at"),
        # The poller's stamp of a source (count, latest update) from the index alone (0013).
        Index("ix_articles_source_updated", "source_id", "updated_at"),
        # Partial: only the originals waiting to be planned; only the copies (migration 0010).
        Index(
            "ix_articles_to_plan",
            "id",
            sqlite_where=text("planned_version < version AND duplicate_of IS NULL"),
            postgresql_where=text("planned_version < version AND duplicate_of IS NULL"),
        ),
        Index(
            "ix_articles_duplicate_of",
            "duplicate_of",
            sqlite_where=text("duplicate_of IS NOT NULL"),
            postgresql_where=text("duplicate_of IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(String(64))
    guid: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    content_html: Mapped[str] = mapped_column(Text, default="")
    content_text: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    agency: Mapped[str] = mapped_column(Text, default="")
    source_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    secrecy_marker: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))
    duplicate_of: Mapped[int | None] = mapped_column(BigId, ForeignKey("articles.id"))
    first_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)
    planned_version: Mapped[int] = mapped_column(Integer, default=0)  # posts rendered for it


class AuditRow(Base):
    """Append-only, hash-chained. Written in the same transaction as the change it records."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class PostRow(Base):
    """The outbox: one row per (article, channel). See docs/posts.md for the state machine."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("article_id", "channel", name="uq_posts_article_channel"),
        Index("ix_posts_channel_status", "channel", "status"),
        Index("ix_posts_status", "status"),  # 0012: asked by status across channels
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(BigId, ForeignKey("articles.id"))
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly what is sent
    payload_hash: Mapped[str] = mapped_column(String(64))
    preview_text: Mapped[str] = mapped_column(Text)
    marker: Mapped[str] = mapped_column(Text)
    edited: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(
        Text
    )  # "telegram:111 (Nguyễn Văn A)", "cli:root", "rule"
    reason: Mapped[str | None] = mapped_column(Text)
    scheduled_for: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    reconcile_checks: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_class: Mapped[str | None] = mapped_column(String(32))
    handle: Mapped[str | None] = mapped_column(Text)  # JSON: vendor handle (Zalo processing token)
    external_id: Mapped[str | None] = mapped_column(Text)
    permalink: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]


class ChannelStateRow(Base):
    """Whether a channel may publish: active, paused by a human, or waiting for credentials."""

    __tablename__ = "channel_state"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(24), default="active")
    reason: Mapped[str | None] = mapped_column(Text)
    blocked_until: Mapped[datetime | None]  # throttled by the service
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(Text)


class ChannelTokenRow(Base):
    """Tokens set at run time (rotated Zalo pair, a new Page token); encrypted when keyed."""

    __tablename__ = "channel_tokens"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None]
    refresh_obtained_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ApprovalMessageRow(Base):
    """A preview message sent to the staff chat for one article (its buttons key DB ids)."""

    __tablename__ = "approval_messages"
    __table_args__ = (
        Index("ix_approval_messages_chat_message", "chat_id", "message_id"),
        Index("ix_approval_messages_article", "article_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(BigId, ForeignKey("articles.id"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    has_photo: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    sent_at: Mapped[datetime]
    reminded_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ApprovalPromptRow(Base):
    """A forced-reply question the bot asked (new text, a time, a reason), awaiting the answer."""

    __tablename__ = "approval_prompts"
    __table_args__ = (Index("ix_approval_prompts_chat_message", "chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)  # only this person's reply counts
    action: Mapped[str] = mapped_column(String(16))  # edit | schedule | reject
    article_id: Mapped[int] = mapped_column(BigId, ForeignKey("articles.id"))
    post_id: Mapped[int | None] = mapped_column(BigId)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ApprovalValueRow(Base):
    """Small named values of the bot that must survive a restart (the alert cursor, incidents)."""

    __tablename__ = "approval_values"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


def article_of(row: ArticleRow) -> Article:
    """The frozen Article a row holds (callers never see rows)."""
    return Article(
        id=row.id,
        source_id=row.source_id,
        guid=row.guid,
        url=row.url,
        canonical_url=row.canonical_url,
        title=row.title,
        summary=row.summary,
        content_html=row.content_html,
        content_text=row.content_text,
        image_url=row.image_url,
        published_at=row.published_at,
        agency=row.agency,
        source_categories=tuple(row.source_categories or ()),
        categories=tuple(row.categories or ()),
        flags=frozenset(row.flags or ()),
        secrecy_marker=row.secrecy_marker,
        content_hash=row.content_hash,
        fingerprint=row.fingerprint,
        duplicate_of=row.duplicate_of,
        first_seen_at=row.first_seen_at,
    )
