"""Benchmark: a year of data (100,000 articles, 200,000 posts), then the reports.

Not a test: prints how long seeding took and how long each report takes (target <= 2 s).
    .venv/bin/python bench/report.py [--articles 100000] [--db PATH | --db-url URL]
SQLite by default (a temporary file, or --db PATH); --db-url runs it on any database URL, e.g.
PostgreSQL. A database that already holds articles is reused as it is, not seeded again.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select

from syndicator.reports.build import ReportSpec, build_report
from syndicator.reports.period import date_range, last_period
from syndicator.storage import open_storage
from syndicator.storage.models import ApprovalMessageRow, ArticleRow, PostRow

CATEGORIES = ["tin_tuc", "hoi_dap", "dau_thau_mua_sam", "van_ban_phap_luat", "quy_hoach_ke_hoach"]
STATUSES = ["published"] * 7 + ["rejected", "expired", "failed"]
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)


def seed(url: str, n: int) -> None:
    store = open_storage(url, audit_key=b"bench-audit-key-0123456789abcdef")
    rng = random.Random(12)
    agencies = [f"Sở số {i}" for i in range(24)] + [f"UBND huyện {i}" for i in range(7)]
    step = timedelta(days=365) / n
    batch = 10_000
    with store.engine.begin() as conn:
        for base in range(0, n, batch):
            arts, posts, previews = [], [], []
            for i in range(base, min(base + batch, n)):
                seen = YEAR_START + step * i
                arts.append({
                    "id": i + 1, "source_id": f"src-{i % 31}", "guid": str(i), "url": f"u{i}",
                    "canonical_url": f"u{i}", "title": "t", "summary": "", "content_html": "",
                    "content_text": "", "agency": agencies[i % 31], "source_categories": [],
                    "categories": rng.sample(CATEGORIES, rng.randint(1, 2)), "flags": [],
                    "content_hash": "h", "fingerprint": f"f{i}", "first_seen_at": seen,
                    "updated_at": seen, "published_at": seen - timedelta(seconds=rng.randint(30, 3600)),
                    "version": 1, "planned_version": 1,
                })  # fmt: skip
                shown = seen + timedelta(seconds=rng.randint(5, 120))
                previews.append({"article_id": i + 1, "chat_id": -1, "message_id": i + 1,
                                 "has_photo": False, "state": "closed", "sent_at": shown,
                                 "updated_at": shown})  # fmt: skip
                decided = shown + timedelta(seconds=rng.randint(60, 7200))
                for channel in ("facebook", "zalo"):
                    status = rng.choice(STATUSES)
                    posts.append({
                        "article_id": i + 1, "channel": channel, "status": status, "payload": "{}",
                        "payload_hash": "p", "preview_text": "", "marker": "", "edited": False,
                        "created_at": seen, "updated_at": decided, "decided_at": decided,
                        "decided_by": "telegram:1 (A)", "attempts": 1, "reconcile_checks": 0,
                        "published_at": decided + timedelta(seconds=rng.randint(2, 600))
                        if status == "published" else None,
                    })  # fmt: skip
            conn.execute(insert(ArticleRow.__table__), arts)  # type: ignore[arg-type]
            conn.execute(insert(ApprovalMessageRow.__table__), previews)  # type: ignore[arg-type]
            conn.execute(insert(PostRow.__table__), posts)  # type: ignore[arg-type]
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--db", help="SQLite file (default: a temporary one)")
    parser.add_argument("--db-url", help="database URL instead, e.g. postgresql+psycopg://...")
    args = parser.parse_args()
    url = args.db_url or f"sqlite:///{args.db or Path(tempfile.mkdtemp()) / 'bench-report.db'}"
    t0 = time.perf_counter()
    store = open_storage(url, audit_key=b"bench-audit-key-0123456789abcdef")
    with store.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(ArticleRow)).scalar_one()
    store.close()
    if stored:
        print(f"reusing {stored:,} articles in {url}")
    else:
        seed(url, args.articles)
        print(f"seeded {args.articles:,} articles, {2 * args.articles:,} posts in "
              f"{time.perf_counter() - t0:.1f} s ({url})")  # fmt: skip
    store = open_storage(url, audit_key=b"bench-audit-key-0123456789abcdef")
    spec = ReportSpec()
    periods = [
        ("week", last_period("week", datetime(2025, 11, 14, tzinfo=UTC))),
        ("month", last_period("month", datetime(2025, 11, 14, tzinfo=UTC))),
        ("quarter", last_period("quarter", datetime(2025, 11, 14, tzinfo=UTC))),
        ("year", date_range("2025-01-01", "2025-12-31")),
    ]
    for name, period in periods:
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            report = build_report(store, period, spec)
            best = min(best, time.perf_counter() - t)
        print(
            f"report {name:8s} {report['totals']['articles']:>7,} articles: {best:.2f} s (best of 3)"
        )
    store.close()


if __name__ == "__main__":
    main()
