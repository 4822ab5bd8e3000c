"""Timeliness: median and 90th percentile of four stage durations, per agency and overall.

Percentiles are nearest-rank: the value at rank k = ceil(p·n) among a partition's n values in
ascending order, with ceil written as integer arithmetic, (p·n + 99) / 100, evaluated in SQL
the same way on both backends. So the median of an even count is the lower middle value.

A year holds ~440,000 stage values, and ranking them is most of a report's time. Numbering them
with two window functions (per agency, and overall) cost two window sorts and their machinery:
~1.9 s of CPU for a year on SQLite, ~1.3 s on PostgreSQL (docs/benchmarks.md). Each backend
now ranks them the way it does cheapest, both in SQL, with the same figures:

- SQLite materialises the period's values once into a TEMP table and builds an index on
  (metric, agency, v) and one on (metric, v): an index build is one C sort, much cheaper than
  the window machinery. A grouped count gives each partition's n and ranks, and each percentile
  is then an index walk `ORDER BY v LIMIT 1 OFFSET k - 1` (a few hundred short statements).
- PostgreSQL sorts each group once inside `array_agg(v ORDER BY v)` over two grouping sets and
  takes the k-th element. (Its temp tables cost more there: index-only scans on a table
  created in the same transaction still visit the heap; measured 1.6 s against 0.7 s.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from syndicator.errors import StorageError
from syndicator.reports.sql import AGENCY, IN_PERIOD, METRICS, Dialect, run

Figures = dict[str, dict[str, dict[str, float | int | None]]]
P50, P90 = "(50 * n + 99) / 100", "(90 * n + 99) / 100"
TABLE = "report_stage"


def stage_values(d: Dialect) -> str:
    """SELECT (metric, agency, v): one row per measured value of the period's articles.

    One pass over the period's articles (the first_seen_at index) gives each one's first
    preview and first human decision (rules decide at creation, with no preview; expiry is
    nobody's decision) through the article_id indexes; it is materialised once and unpivoted
    into one row per value, metrics numbered in METRICS order."""
    sec = d.seconds
    return f"""
WITH arts AS MATERIALIZED (
  SELECT a.id, {AGENCY} AS agency, a.published_at, a.first_seen_at,
    (SELECT MIN(m.sent_at) FROM approval_messages m WHERE m.article_id = a.id) AS pv_at,
    (SELECT MIN(p.decided_at) FROM posts p WHERE p.article_id = a.id
       AND p.decided_at IS NOT NULL AND p.status <> 'expired') AS dec_at
  FROM articles a WHERE {IN_PERIOD}
)
SELECT 0 AS metric, agency, {sec("published_at", "first_seen_at")} AS v
FROM arts WHERE published_at IS NOT NULL AND published_at <= first_seen_at
UNION ALL
SELECT 1, agency, {sec("first_seen_at", "pv_at")} FROM arts WHERE pv_at IS NOT NULL
UNION ALL
SELECT 2, agency, {sec("pv_at", "dec_at")} FROM arts
WHERE pv_at IS NOT NULL AND dec_at IS NOT NULL AND dec_at >= pv_at
UNION ALL
SELECT 3, arts.agency, {sec("p.decided_at", "p.published_at")}
FROM arts JOIN posts p ON p.article_id = arts.id
WHERE p.status = 'published' AND p.decided_at IS NOT NULL AND p.published_at IS NOT NULL
"""


def timeliness(conn: Connection, start: datetime, end: datetime) -> Figures:
    """{agency or "*": {metric: {count, median_s, p90_s}}} for the four stages."""
    d = Dialect(conn.dialect.name)
    rank = _by_arrays if d.name == "postgresql" else _by_index
    rows = rank(conn, d, start, end)
    out: Figures = {}
    for metric, agency, n, v50, v90 in rows:
        out.setdefault(agency, {})[METRICS[int(metric)]] = {
            "count": int(n),
            "median_s": round(float(v50), 1) if v50 is not None else None,
            "p90_s": round(float(v90), 1) if v90 is not None else None,
        }
    return out


def _by_arrays(
    conn: Connection, d: Dialect, start: datetime, end: datetime
) -> list[tuple[Any, ...]]:
    """PostgreSQL: one sort per group in array_agg, the k-th element (arrays count from 1)."""
    sql = f"""
WITH d AS ({stage_values(d)})
SELECT metric, CASE WHEN whole = 1 THEN '*' ELSE agency END, n,
  vs[{P50}], vs[{P90}]
FROM (
  SELECT metric, agency, GROUPING(agency) AS whole, COUNT(*) AS n,
    array_agg(v ORDER BY v) AS vs
  FROM (SELECT metric, {d.bytewise("agency")} AS agency, v FROM d) byte_d
  GROUP BY GROUPING SETS ((metric, agency), (metric))
) g
"""
    return [tuple(r) for r in run(conn, sql, start, end)]


def _by_index(
    conn: Connection, d: Dialect, start: datetime, end: datetime
) -> list[tuple[Any, ...]]:
    """SQLite: the values in a TEMP table (this connection only, dropped before returning, and
    rolled back with the transaction on an error), two indexes, a count per partition, then one
    index walk per wanted rank. Writing to the temp database takes no lock on the main one, so
    a report neither waits for nor blocks the daemon's writers (tests/reports)."""
    t = f"temp.{TABLE}"
    _ddl(conn, f"DROP TABLE IF EXISTS {t}")
    _ddl(conn, f"CREATE TABLE {t} (metric INTEGER NOT NULL, agency TEXT NOT NULL, v REAL NOT NULL)")
    run(conn, f"INSERT INTO {t} (metric, agency, v) {stage_values(d)}", start, end)
    _ddl(conn, f"CREATE INDEX temp.{TABLE}_agency ON {TABLE} (metric, agency, v)")
    _ddl(conn, f"CREATE INDEX temp.{TABLE}_all ON {TABLE} (metric, v)")
    # Each partition's size and the offsets of its two ranks (rank k is OFFSET k - 1); `whole`
    # marks the stage-wide rows, so an agency's name can never select them.
    counts = f"""
SELECT metric, 0, agency, n, {P50} - 1, {P90} - 1
FROM (SELECT metric, agency, COUNT(*) AS n FROM {t} GROUP BY metric, agency)
UNION ALL
SELECT metric, 1, '*', n, {P50} - 1, {P90} - 1
FROM (SELECT metric, COUNT(*) AS n FROM {t} GROUP BY metric)
"""
    at_agency = text(
        f"SELECT v FROM {t} WHERE metric = :m AND agency = :a ORDER BY v LIMIT 1 OFFSET :k"
    )
    at_all = text(f"SELECT v FROM {t} WHERE metric = :m ORDER BY v LIMIT 1 OFFSET :k")
    rows = []
    try:
        for metric, whole, agency, n, k50, k90 in conn.execute(text(counts)).all():
            stmt = at_all if whole else at_agency
            values = [
                conn.execute(stmt, {"m": metric, "a": agency, "k": k}).scalar_one()
                for k in (k50, k90)
            ]
            rows.append((metric, agency, n, *values))
    except SQLAlchemyError as exc:
        raise StorageError(f"report query failed: {exc}") from exc
    _ddl(conn, f"DROP TABLE {t}")
    return rows


def _ddl(conn: Connection, sql: str) -> None:
    try:
        conn.execute(text(sql))
    except SQLAlchemyError as exc:
        raise StorageError(f"report query failed: {exc}") from exc
