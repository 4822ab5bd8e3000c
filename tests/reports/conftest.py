"""A seeded database with known figures: three agencies, one week (03–09/11/2025 local).

Every number the report tests assert is derived by hand in the comments here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from syndicator.reports.build import DEFAULT_EXPECTED, ReportSpec
from syndicator.storage import Storage, open_storage
from syndicator.storage.models import ApprovalMessageRow, ArticleRow, PostRow
from tests.approval.conftest import desk  # noqa: F401  (the Telegram desk fixture, reused)

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
KEY = b"report-tests-audit-key-0123456789"
TC, XD, HUYEN = "Sở Tài chính", "Sở Xây dựng", "UBND huyện Anh Sơn"
APPROVER = "telegram:111 (Nguyễn Văn A)"
# The report's "now": Friday 14/11/2025, so the last complete week is Mon 03/11 – Sun 09/11.
NOW = datetime(2025, 11, 14, 3, 0, tzinfo=UTC)
SPEC = ReportSpec({TC: DEFAULT_EXPECTED, XD: ("hoi_dap", "quy_hoach_ke_hoach")})


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 11, day, hour, minute, tzinfo=LOCAL).astimezone(UTC)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


# (key, source, agency, categories, first seen, portal delay s, preview after s,
#  decision after preview s, posts {channel: (status, live after decision s, error class)})
ARTICLES = [
    ("a1", "so-tc", TC, ["dau_thau_mua_sam"], local(3, 9), 60, 100, 600,
     {"facebook": ("published", 10, None), "zalo": ("published", 20, None)}),
    ("a2", "so-tc", TC, ["tin_tuc"], local(4, 9), 120, 200, 60,
     {"facebook": ("rejected", None, None), "zalo": ("rejected", None, None)}),
    ("a3", "so-tc", TC, ["hoi_dap", "tin_tuc"], local(5, 9), 300, None, None,
     {"facebook": ("held", None, None), "zalo": ("held", None, None)}),
    ("a4", "so-tc", TC, ["dau_thau_mua_sam"], local(6, 9), 600, 50, 1200,
     {"facebook": ("published", 40, None), "zalo": ("failed", None, "permanent")}),
    ("b1", "so-xd", XD, ["quy_hoach_ke_hoach"], local(7, 9), 30, 400, 30,
     {"facebook": ("published", 5, None), "zalo": ("expired", None, None)}),
    ("b2", "so-xd", XD, ["tin_tuc"], local(9, 23), 90, None, None,
     {"facebook": ("pending", None, None), "zalo": ("pending", None, None)}),
    # Outside the week: the day after it ends, and two weeks before it (the silent agency).
    ("b3", "so-xd", XD, ["hoi_dap"], local(10, 0, 1), 10, None, None, {}),
    ("h1", "ubnd-as", HUYEN, ["tin_tuc"], local(20, 8) - timedelta(days=30), 10, None, None, {}),
]  # fmt: skip


def seed(storage: Storage) -> dict[str, int]:
    """Insert the rows above and the audit events of failures and channel incidents."""
    ids: dict[str, int] = {}
    with Session(storage.engine) as session, session.begin():
        for key, source, agency, cats, seen, delay, preview, decide, posts in ARTICLES:
            row = ArticleRow(
                source_id=source, guid=key, url=f"https://portal.example/{key}",
                canonical_url=f"https://portal.example/{key}", title=f"Bài {key} — Tiếng Việt",
                summary="", content_html="", content_text="", agency=agency,
                source_categories=[], categories=cats, flags=[], content_hash=f"hash-{key}",
                fingerprint=f"fp-{key}", first_seen_at=seen, updated_at=seen,
                published_at=seen - s(delay), version=1, planned_version=1,
            )  # fmt: skip
            session.add(row)
            session.flush()
            ids[key] = row.id
            shown = seen + s(preview) if preview is not None else None
            if shown is not None:
                session.add(
                    ApprovalMessageRow(
                        article_id=row.id,
                        chat_id=-100,
                        message_id=row.id,
                        has_photo=False,
                        state="closed",
                        sent_at=shown,
                        updated_at=shown,
                    )
                )
            for channel, (status, live, error_class) in posts.items():
                decided = shown + s(decide) if shown is not None and decide is not None else None
                if status == "expired":
                    decided = seen + timedelta(hours=48)
                post = PostRow(
                    article_id=row.id, channel=channel, status=status,
                    payload=f'{{"message":"{key} {channel}"}}', payload_hash=f"ph-{key}-{channel}",
                    preview_text="", marker="", edited=False, created_at=seen, updated_at=seen,
                    decided_at=decided,
                    decided_by="expiry" if status == "expired" else APPROVER if decided else None,
                    attempts=1 if live is not None or error_class else 0, reconcile_checks=0,
                    error_class=error_class,
                    last_error="(#100) Invalid parameter" if error_class else None,
                )  # fmt: skip
                if live is not None and decided is not None:
                    post.published_at = decided + s(live)
                    post.external_id = f"ext-{key}-{channel}"
                    post.permalink = f"https://facebook.example/{key}-{channel}"
                session.add(post)
    events = [
        (local(4, 10), "channel.paused", "channel:zalo", {"from": "active", "reason": "bảo trì"}),
        (local(4, 11), "post.retry", "post:1", {"channel": "facebook", "class": "transient"}),
        (local(4, 12), "channel.active", "channel:zalo", {"from": "paused", "reason": None}),
        (local(6, 10), "post.retry", "post:7", {"channel": "facebook", "class": "transient"}),
        (local(6, 11), "post.failed", "post:8", {"channel": "zalo", "class": "permanent"}),
        (local(9, 22), "channel.needs_credentials", "channel:facebook", {"reason": "190"}),
        (local(10, 9), "post.retry", "post:9", {"channel": "facebook", "class": "transient"}),
    ]
    for at, kind, subject, data in events:
        storage.record_event(kind, actor="publisher", subject=subject, data=data, now=at)
    return ids


@pytest.fixture
def seeded(db_url: str) -> Iterator[Storage]:
    """The seeded database on each backend, with a keyed audit trail."""
    store = open_storage(db_url, audit_key=KEY)
    seed(store)
    yield store
    store.close()
