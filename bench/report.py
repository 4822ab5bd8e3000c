"""Benchmark: a year of data (100,000 articles, 200,000 posts), then the reports.

Not a test: prints how long seeding took and how long each report takes (target <= 2 s).
    .venv/bin/python bench/report.py [--articles 100000] [--db PATH | --db-url URL]
SQLite by default (a temporary file, or --db PATH); --db-url runs it on any database URL, e.g.
PostgreSQL. A database that already holds articles is reused as it is, not seeded again.
Each report is timed `--runs` times: wall and CPU seconds (this process, plus on PostgreSQL the
database's backends on this machine, from /proc), with the load average (the machine is shared).
    --profile           also time each query of queries.collect once, per period
    --periods year      only some periods (week,month,quarter,year)
    --dump DIR          write queries.collect as JSON for the periods and some odd ranges, to
                        compare two versions of the queries (diff -r old new)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from syndicator.reports import queries
from syndicator.reports.build import ReportSpec, build_report
from syndicator.reports.period import Period, date_range, last_period
from syndicator.storage import Storage, open_storage
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


PERIODS = {
    "week": last_period("week", datetime(2025, 11, 14, tzinfo=UTC)),
    "month": last_period("month", datetime(2025, 11, 14, tzinfo=UTC)),
    "quarter": last_period("quarter", datetime(2025, 11, 14, tzinfo=UTC)),
    "year": date_range("2025-01-01", "2025-12-31"),
}
# Odd ranges for --dump: one day, ranges starting before or ending after the data, a range
# across a month end, a long summer, and a single day with the year's first articles.
ODD_RANGES = [
    ("2025-01-01", "2025-01-01"),
    ("2024-12-20", "2025-01-09"),
    ("2025-02-27", "2025-03-02"),
    ("2025-06-17", "2025-09-02"),
    ("2025-04-05", "2025-04-05"),
    ("2025-12-20", "2026-01-10"),
    ("2025-03-15", "2025-11-30"),
]


def server_cpu(url: str) -> float:
    """CPU seconds (user + system) of this database's PostgreSQL backends on this machine, read
    from /proc: the report's SQL runs there, not in this process. 0 for SQLite."""
    if not url.startswith("postgresql"):
        return 0.0
    name = make_url(url).database or ""
    total = 0
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            if not cmd.startswith("postgres:") or f" {name} " not in cmd:
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the backend ended meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def profile(store: Storage, url: str, period: Period) -> None:
    """Each query of queries.collect on its own, in one read transaction as collect runs them."""
    with store.reader.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL jit = off"))
            conn.execute(text("SET LOCAL work_mem = '64MB'"))
        for name in QUERIES:
            fn = getattr(queries, name)
            w, c, s = time.perf_counter(), time.process_time(), server_cpu(url)
            fn(conn, period.start, period.end)
            wall = time.perf_counter() - w
            cpu = time.process_time() - c + server_cpu(url) - s
            print(f"  {name:16s} wall {wall:6.3f} s  cpu {cpu:6.3f} s")


QUERIES = ("agency_articles", "last_article_at", "by_category", "post_states", "weeks_active",
           "timeliness", "failures", "incidents")  # fmt: skip


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {("|".join(k) if isinstance(k, tuple) else k): _jsonable(v)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def dump(store: Storage, out: Path) -> None:
    """queries.collect as JSON for each period and odd range, to compare two versions' files."""
    out.mkdir(parents=True, exist_ok=True)
    periods = dict(PERIODS)
    periods.update({f"{a}_{b}": date_range(a, b) for a, b in ODD_RANGES})
    for name, period in periods.items():
        with store.reader.connect() as conn, conn.begin():
            data = queries.collect(conn, period.start, period.end)
        text_ = json.dumps(_jsonable(data), ensure_ascii=False, sort_keys=True, indent=1)
        (out / f"{name}.json").write_text(text_ + "\n", encoding="utf-8")
    print(f"wrote {len(periods)} files to {out}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--db", help="SQLite file (default: a temporary one)")
    parser.add_argument("--db-url", help="database URL instead, e.g. postgresql+psycopg://...")
    parser.add_argument("--periods", default="week,month,quarter,year", help="comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs per period (best is printed)")
    parser.add_argument("--profile", action="store_true", help="also time each query once")
    parser.add_argument("--dump", type=Path, help="write queries.collect JSON there and stop")
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
    if args.dump:
        dump(store, args.dump)
        store.close()
        return
    spec = ReportSpec()
    for name in args.periods.split(","):
        period = PERIODS[name]
        walls, cpus = [], []
        for _ in range(args.runs):
            w, c, s = time.perf_counter(), time.process_time(), server_cpu(url)
            report = build_report(store, period, spec)
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c + server_cpu(url) - s)
        print(
            f"report {name:8s} {report['totals']['articles']:>7,} articles: "
            f"wall best {min(walls):.2f} s ({', '.join(f'{x:.2f}' for x in walls)}), "
            f"cpu best {min(cpus):.2f} s ({', '.join(f'{x:.2f}' for x in cpus)}), {load()}"
        )
        if args.profile:
            profile(store, url, period)
    store.close()


if __name__ == "__main__":
    main()
