"""The nearest-rank definition on small awkward partitions, and the ranking's own machinery.

Each backend ranks the timeliness values its own way (timeliness.py: a TEMP table and index
walks on SQLite, array_agg over grouping sets on PostgreSQL). Partitions of 1, 2, 10 and 70
values and runs of ties are where an off-by-one shows: for n = 70 the 90th percentile is rank
63, while ceil(0.9 * 70) in floating point is 64 (the reason percentile_disc was not used).
The figures below are derived by hand, and checked against a Python nearest rank as well.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, insert, text

from syndicator.errors import StorageError
from syndicator.reports import queries, timeliness
from syndicator.reports.build import ReportSpec, build_report
from syndicator.reports.period import date_range
from syndicator.storage import Storage
from syndicator.storage.models import ArticleRow

PERIOD = date_range("2025-03-03", "2025-03-09")
SEEN = datetime(2025, 3, 4, 3, 0, tzinfo=UTC)  # inside the period, in every time zone
# Agency -> portal delays in seconds (portal_to_detected). Values are listed out of order.
DELAYS: dict[str, list[float]] = {
    "Một": [42.0],
    "Hai": [9.0, 3.0],
    "Mười": [10.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0],
    "Bảy mươi": [float(v) for v in range(70, 0, -1)],
    "Trùng": [5.0] * 7,
    "Trùng lẫn": [9.0, 5.0, 7.0, 5.0, 9.0, 9.0, 5.0, 7.0, 9.0, 9.0, 0.5, 0.25],
}
# (count, median, p90) by hand: rank ceil(p * n / 100) of the sorted values.
EXPECTED = {
    "Một": (1, 42.0, 42.0),  # ranks 1, 1
    "Hai": (2, 3.0, 9.0),  # ranks 1, 2: the lower middle value is the median
    "Mười": (10, 5.0, 9.0),  # ranks 5, 9
    "Bảy mươi": (70, 35.0, 63.0),  # ranks 35, 63 (not 64)
    "Trùng": (7, 5.0, 5.0),  # ranks 4, 7 (all equal)
    # sorted: 0.25 0.5 5 5 5 7 7 9 9 9 9 9 -> ranks 6 and 11 (0.25 rounds to 0.2 or 0.3: avoided)
    "Trùng lẫn": (12, 7.0, 9.0),
}


def _seed(storage: Storage) -> None:
    rows, i = [], 0
    for agency, delays in DELAYS.items():
        for delay in delays:
            i += 1
            rows.append({
                "id": i, "source_id": "src", "guid": str(i), "url": f"u{i}",
                "canonical_url": f"u{i}", "title": "t", "summary": "", "content_html": "",
                "content_text": "", "agency": agency, "source_categories": [],
                "categories": ["tin_tuc"], "flags": [], "content_hash": "h",
                "fingerprint": f"f{i}", "first_seen_at": SEEN, "updated_at": SEEN,
                "published_at": SEEN - timedelta(seconds=delay), "version": 1,
                "planned_version": 1,
            })  # fmt: skip
    with storage.engine.begin() as conn:
        conn.execute(insert(ArticleRow.__table__), rows)  # type: ignore[arg-type]


def _nearest(values: list[float], p: int) -> float:
    return sorted(values)[math.ceil(p * len(values) / 100) - 1]


def test_small_partitions_and_ties(storage: Storage) -> None:
    """n = 1, 2, 10, 70, all ties and mixed ties: hand-derived ranks, per agency and overall."""
    _seed(storage)
    with storage.reader.connect() as conn, conn.begin():
        got = queries.timeliness(conn, PERIOD.start, PERIOD.end)
    for agency, (n, median, p90) in EXPECTED.items():
        want = {"count": n, "median_s": median, "p90_s": p90}
        assert got[agency] == {"portal_to_detected": want}, agency
        values = DELAYS[agency]
        assert (_nearest(values, 50), _nearest(values, 90)) == (median, p90)
    everything = [v for vs in DELAYS.values() for v in vs]
    assert len(everything) == 102
    # Overall ranks 51 and 92 (ceil(0.9 * 102) = 92). Values <= 20: 2 + 10 + 20 + 7 + 12 = 51,
    # so rank 51 is 20; values <= 60: those 51, 21..60 (40) and the 42, so rank 92 is 60.
    assert got["*"] == {
        "portal_to_detected": {
            "count": 102,
            "median_s": _nearest(everything, 50),
            "p90_s": _nearest(everything, 90),
        }
    }
    assert (_nearest(everything, 50), _nearest(everything, 90)) == (20.0, 60.0)
    assert set(got) == set(DELAYS) | {"*"}


def test_empty_period_has_no_figures(storage: Storage) -> None:
    _seed(storage)
    later = date_range("2025-04-01", "2025-04-30")
    with storage.reader.connect() as conn, conn.begin():
        assert queries.timeliness(conn, later.start, later.end) == {}


def test_twice_on_one_connection_and_nothing_left_behind(storage: Storage) -> None:
    """The SQLite TEMP table is dropped before returning: a second report on the same pooled
    connection starts clean, and no scratch table outlives the report on either backend."""
    _seed(storage)
    with storage.reader.connect() as conn:
        with conn.begin():
            first = queries.timeliness(conn, PERIOD.start, PERIOD.end)
            assert queries.timeliness(conn, PERIOD.start, PERIOD.end) == first
        with conn.begin():
            assert queries.timeliness(conn, PERIOD.start, PERIOD.end) == first
            assert not _scratch_tables(conn)


def test_failed_report_is_a_clear_error_and_the_next_one_works(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement failing half-way (here: a broken stage query) is a StorageError naming the
    report; the transaction's rollback takes the scratch table with it, and the next report on
    the same storage gives the full figures."""
    _seed(storage)
    good = timeliness.stage_values
    monkeypatch.setattr(
        timeliness, "stage_values", lambda d: good(d).replace("FROM arts", "FROM no_such_table", 1)
    )
    with pytest.raises(StorageError, match="report query failed"):
        build_report(storage, PERIOD, ReportSpec())
    monkeypatch.setattr(timeliness, "stage_values", good)
    report = build_report(storage, PERIOD, ReportSpec())
    assert report["timeliness"]["overall"]["portal_to_detected"]["count"] == 102
    with storage.reader.connect() as conn, conn.begin():
        assert not _scratch_tables(conn)


def test_report_while_a_writer_holds_the_database(storage: Storage) -> None:
    """The report writes only to its own TEMP table (SQLite) or nothing (PostgreSQL): it runs
    to the end while another connection holds the write lock, and does not take it. If the
    report needed the lock it would wait for the busy timeout and fail, not pass slowly."""
    _seed(storage)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with storage.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE, the write lock
            conn.execute(text("UPDATE articles SET title = 'đang sửa' WHERE id = 1"))
            holding.set()
            release.wait(60)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(30)
        report = build_report(storage, PERIOD, ReportSpec())
    finally:
        release.set()
        thread.join()
    assert report["timeliness"]["by_agency"]["Bảy mươi"]["portal_to_detected"]["p90_s"] == 63.0


def _scratch_tables(conn: Connection) -> list[str]:
    """This connection's temporary tables."""
    if conn.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_temp_master WHERE type = 'table'"
    else:
        sql = "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema()"
    return [r[0] for r in conn.execute(text(sql))]


def test_two_reports_at_once(storage: Storage) -> None:
    """Two reports in two threads (the bot's /report and the weekly send can overlap): each
    connection has its own scratch table, so both get the full, equal figures."""
    _seed(storage)
    results: list[dict[str, object]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def one() -> None:
        try:
            start.wait(30)
            results.append(build_report(storage, PERIOD, ReportSpec())["timeliness"])
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 2 and results[0] == results[1]
    overall = results[0]["overall"]
    assert isinstance(overall, dict)
    assert overall["portal_to_detected"] == {"count": 102, "median_s": 20.0, "p90_s": 60.0}
