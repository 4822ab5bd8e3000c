"""The frozen values that flow through the pipeline.

An `Entry` is what a parser recovered from one item of a feed, raw. `normalise()` turns it into
an `Article`, the one type every later stage (dedup, classify, render, approve) works on.
ORM rows never leave `syndicator.storage`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Entry:
    """One item as a parser recovered it, before normalisation (strings may hold HTML, NFD...)."""

    guid: str | None
    url: str | None
    title: str | None
    summary: str | None = None  # may be HTML
    content: str | None = None  # may be HTML
    image: str | None = None
    published: str | datetime | None = None  # raw text, or a datetime the parser already read
    categories: tuple[str, ...] = ()
    base_url: str | None = None  # for resolving relative links


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a parser got from one document: the entries it could recover and any error."""

    entries: tuple[Entry, ...]
    error: str | None = None  # set when the document was broken (entries may still be non-empty)


# The category keys of the directives (shared/domain.md), in their table's order: data, config
# and exports use them; the Vietnamese names are for people. `tin_tuc` is the default.
CATEGORIES = (
    "chi_dao_dieu_hanh", "khen_thuong_xu_phat", "quy_hoach_ke_hoach", "dau_tu_moi_goi",
    "dau_thau_mua_sam", "ho_tro_doanh_nghiep", "van_ban_phap_luat", "thu_tuc_hanh_chinh",
    "pho_bien_phap_luat", "khoa_hoc_cong_nghe", "hoi_dap", "tin_tuc",
)  # fmt: skip


class Flag(enum.StrEnum):
    HOLD = "hold"  # carries a secrecy marker: never auto-published
    TCVN3 = "tcvn3"  # legacy TCVN3 mojibake detected (and converted)
    NO_DATE = "no_date"  # the source gave no readable publication time
    URGENT = "urgent"  # disaster / emergency keywords
    TRUNCATED = "truncated"  # a field was longer than its cap (normalise.py) and was cut


@dataclass(frozen=True, slots=True)
class Article:
    """One official article, normalised: NFC text, absolute URLs, aware UTC times."""

    source_id: str
    guid: str
    url: str
    canonical_url: str
    title: str
    summary: str  # clean plain text
    content_html: str  # sanitised HTML
    content_text: str  # clean plain text of the content
    image_url: str | None
    published_at: datetime | None  # aware UTC
    agency: str
    source_categories: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # keys from the directive's list, e.g. "tin_tuc"
    flags: frozenset[str] = frozenset()
    secrecy_marker: str | None = None
    content_hash: str = ""  # sha256 of the normalised title + summary + content
    fingerprint: str = ""  # title+text fingerprint used for cross-source duplicate detection
    id: int | None = None  # database id once stored
    duplicate_of: int | None = None
    first_seen_at: datetime | None = None

    @property
    def held(self) -> bool:
        return Flag.HOLD in self.flags


class PostStatus(enum.StrEnum):
    """The outbox state machine; see docs/posts.md."""

    PENDING = "pending"  # waits for a human decision
    HELD = "held"  # secrecy-marked: waits for a human, never auto-approved
    APPROVED = "approved"  # may be published (subject to pacing)
    SCHEDULED = "scheduled"  # approved for a given time
    PUBLISHING = "publishing"  # intent committed; outcome not yet known
    PUBLISHED = "published"
    FAILED = "failed"  # permanent error from the service
    NEEDS_HUMAN = "needs_human"  # could not reconcile an ambiguous outcome
    REJECTED = "rejected"
    EXPIRED = "expired"
    SKIPPED = "skipped"  # per-channel switch turned off before approval
    REMOVING = "removing"  # a take-down is committed; the delete call is under way or unknown
    REMOVED = "removed"  # taken down from the channel (by us), with who and why on record


@dataclass(frozen=True, slots=True)
class Post:
    """The rendered payload for one channel: exactly what is previewed and what is sent."""

    channel: str
    article_id: int | None
    payload: dict[str, Any]
    preview_text: str  # human-readable form of the payload, for the approval preview
    marker: str  # what reconciliation looks for (canonical link for Graph, title for Zalo)
    id: int | None = None
    status: PostStatus = PostStatus.PENDING


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What happened to one publish attempt."""

    external_id: str
    permalink: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
