"""Timeliness percentiles from SQL against the same figures computed in Python, on random data.

The seeded tests in test_report_figures.py assert a handful of hand-derived values; this one
checks the nearest-rank definition (docs/reports.md, queries.py) on hundreds of values with
ties, odd and even counts, several agencies, previews and decisions that are missing or out of
order, and posts that are not live, so a faster query cannot drift from the figures.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from syndicator.reports import queries
from syndicator.storage import Storage
from syndicator.storage.models import ApprovalMessageRow, ArticleRow, PostRow

START = datetime(2025, 3, 3, tzinfo=UTC)
END = START + timedelta(days=7)
AGENCIES = ["Sở Tài chính", "Sở Y tế", "UBND huyện Con Cuông", ""]  # "" counts as its source id


def _seed(storage: Storage, rng: random.Random) -> dict[str, dict[str, list[float]]]:
    """Random rows; returns the values each stage should measure, per agency and overall."""
    values: dict[str, dict[str, list[float]]] = {}

    def add(agency: str, metric: str, seconds: float) -> None:
        for key in (agency, "*"):
            values.setdefault(key, {}).setdefault(metric, []).append(seconds)

    arts, previews, posts = [], [], []
    for i in range(1, 241):
        # Whole seconds from a small range make ties; some rows fall outside the week.
        seen = START + timedelta(seconds=rng.randint(-3600, 8 * 86400))
        agency = rng.choice(AGENCIES)
        source = f"src-{i % 3}"
        shown_agency = agency or source
        delay = rng.choice([None, rng.randint(-30, 600), rng.randint(0, 20)])
        published = seen - timedelta(seconds=delay) if delay is not None else None
        arts.append({
            "id": i, "source_id": source, "guid": str(i), "url": f"u{i}", "canonical_url": f"u{i}",
            "title": "t", "summary": "", "content_html": "", "content_text": "", "agency": agency,
            "source_categories": [], "categories": ["tin_tuc"], "flags": [], "content_hash": "h",
            "fingerprint": f"f{i}", "first_seen_at": seen, "updated_at": seen,
            "published_at": published, "version": 1, "planned_version": 1,
        })  # fmt: skip
        in_week = START <= seen < END
        if in_week and delay is not None and delay >= 0:
            add(shown_agency, "portal_to_detected", float(delay))
        shown = None
        if rng.random() < 0.8:
            # Two previews for some articles: the first one counts.
            offsets = sorted(rng.randint(1, 300) for _ in range(rng.choice([1, 1, 2])))
            for n, off in enumerate(offsets):
                at = seen + timedelta(seconds=off)
                previews.append({"article_id": i, "chat_id": -1, "message_id": i * 10 + n,
                                 "has_photo": False, "state": "closed", "sent_at": at,
                                 "updated_at": at})  # fmt: skip
            shown = seen + timedelta(seconds=offsets[0])
            if in_week:
                add(shown_agency, "detected_to_preview", float(offsets[0]))
        decisions = []
        for channel in ("facebook", "zalo"):
            status = rng.choice(["published", "published", "rejected", "expired", "failed", "held"])
            decided = None
            if status != "held":
                # Sometimes before the preview (a rule), so preview_to_decision skips it.
                decided = seen + timedelta(seconds=rng.randint(-50, 900))
            live = None
            if status == "published" and decided is not None and rng.random() < 0.9:
                live = decided + timedelta(seconds=rng.randint(1, 40))
                if in_week:
                    add(shown_agency, "decision_to_live", (live - decided).total_seconds())
            if decided is not None and status != "expired":
                decisions.append(decided)
            posts.append({
                "article_id": i, "channel": channel, "status": status, "payload": "{}",
                "payload_hash": "p", "preview_text": "", "marker": "", "edited": False,
                "created_at": seen, "updated_at": seen, "decided_at": decided,
                "decided_by": "telegram:1 (A)" if decided else None, "attempts": 1,
                "reconcile_checks": 0, "published_at": live,
            })  # fmt: skip
        if in_week and shown is not None and decisions and min(decisions) >= shown:
            add(shown_agency, "preview_to_decision", (min(decisions) - shown).total_seconds())
    with storage.engine.begin() as conn:
        conn.execute(insert(ArticleRow.__table__), arts)  # type: ignore[arg-type]
        conn.execute(insert(ApprovalMessageRow.__table__), previews)  # type: ignore[arg-type]
        conn.execute(insert(PostRow.__table__), posts)  # type: ignore[arg-type]
    return values


def _rank(values: list[float], p: int) -> float:
    """Nearest rank: the value at position ceil(p/100 · n) of the sorted values."""
    return sorted(values)[math.ceil(p * len(values) / 100) - 1]


def test_timeliness_matches_nearest_rank(storage: Storage) -> None:
    """Counts, medians and 90th percentiles equal a Python nearest-rank over the same values."""
    expected = _seed(storage, random.Random(43))
    with storage.reader.connect() as conn, conn.begin():
        got = queries.timeliness(conn, START, END)
    assert set(got) == set(expected)
    for agency, metrics in expected.items():
        assert set(got[agency]) == set(metrics), agency
        for metric, vals in metrics.items():
            assert got[agency][metric] == {
                "count": len(vals),
                "median_s": round(_rank(vals, 50), 1),
                "p90_s": round(_rank(vals, 90), 1),
            }, (agency, metric)
    # The data exercise what the definition is about: ties and both parities of counts.
    overall = expected["*"]
    assert all(len(set(v)) < len(v) for v in overall.values())
    assert {len(v) % 2 for m in expected.values() for v in m.values()} == {0, 1}
