"""Report figures on the seeded database: exact counts and nearest-rank percentiles."""

from __future__ import annotations

from typing import Any

from syndicator.reports.build import DEFAULT_EXPECTED, build_report
from syndicator.reports.period import last_period
from syndicator.storage import Storage
from tests.reports.conftest import HUYEN, NOW, SPEC, TC, XD


def _week(storage: Storage) -> dict[str, Any]:
    return build_report(storage, last_period("week", NOW), SPEC)


def test_agency_counts(seeded: Storage) -> None:
    """Articles, categories, posts per channel and decisions per agency, for the week only."""
    report = _week(seeded)
    assert (report["from"], report["to"]) == ("2025-11-03", "2025-11-09")
    rows = {r["agency"]: r for r in report["agencies"]}
    assert [r["agency"] for r in report["agencies"]] == [TC, XD, HUYEN]
    tc, xd = rows[TC], rows[XD]
    assert tc["articles"] == 4 and xd["articles"] == 2 and rows[HUYEN]["articles"] == 0
    assert tc["by_category"] == {"dau_thau_mua_sam": 2, "hoi_dap": 1, "tin_tuc": 2}
    assert xd["by_category"] == {"quy_hoach_ke_hoach": 1, "tin_tuc": 1}
    assert tc["published"] == {"facebook": 2, "zalo": 1}
    assert (tc["rejected"], tc["expired"], tc["held"], tc["failed"]) == (2, 0, 2, 1)
    assert xd["published"] == {"facebook": 1}
    assert (xd["rejected"], xd["expired"], xd["held"]) == (0, 1, 0)
    # As of the week's end: b2 (09/11 23:00 local), not b3 (10/11); the huyện's, a month old.
    assert xd["last_article_at"] == "2025-11-09T16:00:00+00:00"
    assert rows[HUYEN]["last_article_at"] == "2025-10-21T01:00:00+00:00"
    assert report["totals"] == {
        "articles": 6, "published": 4, "rejected": 2, "expired": 1, "held": 2,
    }  # fmt: skip


def test_silent_agencies_and_missing_categories(seeded: Storage) -> None:
    """The huyện had nothing this week; each agency's unpublished expected categories are named."""
    report = _week(seeded)
    assert report["silent_agencies"] == [HUYEN]
    missing = report["missing_categories"]
    assert missing[XD] == ["hoi_dap"]  # its own expected list; hoi_dap came only on 10/11
    assert missing[TC] == [k for k in DEFAULT_EXPECTED if k not in ("dau_thau_mua_sam", "hoi_dap")]
    assert missing[HUYEN] == list(DEFAULT_EXPECTED)


def test_timeliness_percentiles(seeded: Storage) -> None:
    """Median and p90 (nearest rank) per stage, per agency and overall."""
    t = _week(seeded)["timeliness"]

    def fig(stage: dict[str, Any]) -> tuple[int, float | None, float | None]:
        return stage["count"], stage["median_s"], stage["p90_s"]

    overall = t["overall"]
    assert fig(overall["portal_to_detected"]) == (6, 90.0, 600.0)
    assert fig(overall["detected_to_preview"]) == (4, 100.0, 400.0)
    assert fig(overall["preview_to_decision"]) == (4, 60.0, 1200.0)
    assert fig(overall["decision_to_live"]) == (4, 10.0, 40.0)
    tc = t["by_agency"][TC]
    assert fig(tc["portal_to_detected"]) == (4, 120.0, 600.0)
    assert fig(tc["detected_to_preview"]) == (3, 100.0, 200.0)
    assert fig(tc["preview_to_decision"]) == (3, 600.0, 1200.0)
    assert fig(tc["decision_to_live"]) == (3, 20.0, 40.0)
    xd = t["by_agency"][XD]
    assert fig(xd["portal_to_detected"]) == (2, 30.0, 90.0)
    assert fig(xd["preview_to_decision"]) == (1, 30.0, 30.0)
    assert HUYEN not in t["by_agency"]


def test_failures_and_incidents(seeded: Storage) -> None:
    """Failed attempts by channel and class; channel outages with their time inside the week."""
    report = _week(seeded)
    assert report["failures"] == [
        {"channel": "facebook", "class": "transient", "event": "post.retry", "count": 2},
        {"channel": "zalo", "class": "permanent", "event": "post.failed", "count": 1},
    ]
    incidents = [
        (i["channel"], i["state"], i["reason"], i["ended_at"] is None, i["seconds_in_period"])
        for i in report["incidents"]
    ]
    assert incidents == [
        ("zalo", "paused", "bảo trì", False, 7200.0),
        ("facebook", "needs_credentials", "190", True, 7200.0),
    ]


def test_audit_head_in_report(seeded: Storage) -> None:
    """The report carries the trail's head, which verifies as an anchor."""
    report = _week(seeded)
    head = report["audit_head"]
    assert head["id"] == 7 and len(head["hash"]) == 64
    assert seeded.verify_audit((head["id"], head["hash"])).ok


def test_quarter_ranking(seeded: Storage) -> None:
    """A quarter report ranks agencies by regularity and coverage, naming best and weakest."""
    from datetime import UTC, datetime

    report = build_report(seeded, last_period("quarter", datetime(2026, 1, 5, tzinfo=UTC)), SPEC)
    assert (report["from"], report["to"]) == ("2025-10-01", "2025-12-31")
    ranking = report["ranking"]
    rows = {r["agency"]: r for r in ranking["agencies"]}
    # 14 seven-day blocks from 01/10; XD's articles (07/11 – 10/11) all fall in block 6
    # (05/11 – 11/11), and it covers both expected categories -> 50 * 1/14 + 50.
    assert rows[XD]["weeks"] == 14 and rows[XD]["weeks_active"] == 1
    assert rows[XD]["score"] == round(50 / 14 + 50, 1)
    # TC: 03-04/11 in block 5 (29/10 – 04/11), 05-06/11 in block 6; 2 of 11 expected.
    assert rows[TC]["weeks_active"] == 2
    assert rows[TC]["score"] == round(50 * 2 / 14 + 50 * 2 / 11, 1)
    # The huyện's article (21/10) is in the quarter too: 1 week, 0 of 11.
    assert rows[HUYEN]["score"] == round(50 / 14, 1)
    assert ranking["best"] == [XD, TC] and ranking["weakest"] == [HUYEN]
    assert "weeks with a new article" in ranking["method"]
    assert "ranking" not in _week(seeded)
