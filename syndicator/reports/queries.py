"""Every report figure as one SQL aggregation; Python only reshapes the grouped rows.

Both backends: SQLite (3.25+, window functions and json_each) and PostgreSQL. The few
dialect differences (seconds between two timestamps, expanding a JSON list, floor) are
spelled out in `_Dialect`. Percentiles are nearest-rank: rows are numbered with ROW_NUMBER()
within each (metric, agency) partition next to COUNT(*) OVER the same partition, and the value
at rank ceil(p·n) is kept (ceil written as integer arithmetic, (p·n + 99) / 100, which both
backends evaluate the same way). So the median of an even count is the lower middle value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from syndicator.errors import StorageError
from syndicator.storage.models import UTCDateTime

AGENCY = "CASE WHEN a.agency = '' THEN a.source_id ELSE a.agency END"
METRICS = ("portal_to_detected", "detected_to_preview", "preview_to_decision", "decision_to_live")
# Events that say an attempt did not go through; their data carries channel and class.
FAILURE_EVENTS = (
    "post.failed",
    "post.retry",
    "post.throttled",
    "post.needs_human",
    "post.ambiguous",
    "post.waiting_credentials",
)


@dataclass(frozen=True, slots=True)
class _Dialect:
    name: str

    def seconds(self, a: str, b: str) -> str:
        """Seconds from timestamp a to timestamp b."""
        if self.name == "sqlite":
            return f"((julianday({b}) - julianday({a})) * 86400.0)"
        # EXTRACT gives numeric (PG 14+), slow to sort; its microseconds convert to float8
        # monotonically and exactly enough that ranks and the reported 0.1 s do not change.
        return f"CAST(EXTRACT(EPOCH FROM ({b} - {a})) AS DOUBLE PRECISION)"

    def categories(self, column: str) -> str:
        """A FROM item yielding one row per key of a JSON list column, as `c.value`."""
        if self.name == "sqlite":
            return f"json_each({column}) AS c"
        return f"LATERAL json_array_elements_text({column}) AS c(value)"

    def json_text(self, column: str, key: str) -> str:
        if self.name == "sqlite":
            return f"json_extract({column}, '$.{key}')"
        return f"(CAST({column} AS json) ->> '{key}')"

    def bytewise(self, expr: str) -> str:
        """Text compared byte by byte: SQLite's default; on PostgreSQL the database's locale
        collation is several times slower to sort on, and partitions need only equality."""
        return expr if self.name == "sqlite" else f'({expr} COLLATE "C")'

    def floor(self, expr: str) -> str:
        # SQLite's CAST truncates (floor for the non-negative values used here); PG's rounds.
        return f"CAST({expr} AS INTEGER)" if self.name == "sqlite" else f"FLOOR({expr})"


def _run(conn: Connection, sql: str, start: datetime, end: datetime) -> list[Any]:
    stmt = text(sql).bindparams(
        bindparam("s", type_=UTCDateTime()), bindparam("e", type_=UTCDateTime())
    )
    try:
        return list(conn.execute(stmt, {"s": start, "e": end}))
    except SQLAlchemyError as exc:
        raise StorageError(f"report query failed: {exc}") from exc


# Articles are counted by when syndicator first saw them (first_seen_at, indexed); posts and
# timeliness follow those articles (a cohort), so one week's figures do not move later.
IN_PERIOD = "a.first_seen_at >= :s AND a.first_seen_at < :e"


def agency_articles(conn: Connection, start: datetime, end: datetime) -> dict[str, int]:
    sql = f"SELECT {AGENCY} AS agency, COUNT(*) FROM articles a WHERE {IN_PERIOD} GROUP BY 1"
    return {r[0]: int(r[1]) for r in _run(conn, sql, start, end)}


def last_article_at(conn: Connection, start: datetime, end: datetime) -> dict[str, datetime]:
    """Per agency, the newest article seen before the period's end (also for silent ones)."""
    sql = (
        f"SELECT {AGENCY} AS agency, MAX(a.first_seen_at) FROM articles a "
        "WHERE a.first_seen_at < :e GROUP BY 1"
    )
    stmt = text(sql).bindparams(bindparam("e", type_=UTCDateTime()))
    out_type = UTCDateTime()
    try:
        rows = conn.execute(stmt, {"e": end}).all()
    except SQLAlchemyError as exc:
        raise StorageError(f"report query failed: {exc}") from exc
    out: dict[str, datetime] = {}
    for agency, value in rows:
        if isinstance(value, str):  # SQLite's MAX() loses the column type: parse its text
            value = datetime.fromisoformat(value)
        parsed = out_type.process_result_value(value, conn.dialect)
        if parsed is not None:
            out[agency] = parsed
    return out


def by_category(conn: Connection, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    d = _Dialect(conn.dialect.name)
    sql = (
        f"SELECT {AGENCY} AS agency, c.value AS category, COUNT(*) FROM articles a, "
        f"{d.categories('a.categories')} WHERE {IN_PERIOD} GROUP BY 1, 2"
    )
    out: dict[str, dict[str, int]] = {}
    for agency, category, n in _run(conn, sql, start, end):
        out.setdefault(agency, {})[str(category)] = int(n)
    return out


def post_states(
    conn: Connection, start: datetime, end: datetime
) -> dict[str, dict[tuple[str, str], int]]:
    """Per agency, (channel, status) → number of posts of the period's articles."""
    sql = (
        f"SELECT {AGENCY} AS agency, p.channel, p.status, COUNT(*) FROM posts p "
        f"JOIN articles a ON a.id = p.article_id WHERE {IN_PERIOD} GROUP BY 1, 2, 3"
    )
    out: dict[str, dict[tuple[str, str], int]] = {}
    for agency, channel, status, n in _run(conn, sql, start, end):
        out.setdefault(agency, {})[(channel, status)] = int(n)
    return out


def weeks_active(conn: Connection, start: datetime, end: datetime) -> dict[str, int]:
    """Per agency, in how many of the period's weeks it had at least one new article."""
    d = _Dialect(conn.dialect.name)
    week = d.floor(f"{d.seconds(':s', 'a.first_seen_at')} / 604800.0")
    sql = (
        f"SELECT {AGENCY} AS agency, COUNT(DISTINCT {week}) FROM articles a "
        f"WHERE {IN_PERIOD} GROUP BY 1"
    )
    return {r[0]: int(r[1]) for r in _run(conn, sql, start, end)}


def timeliness(
    conn: Connection, start: datetime, end: datetime
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """{agency or "*": {metric: {count, median_s, p90_s}}} for the four stages."""
    d = _Dialect(conn.dialect.name)
    sec = d.seconds
    p50, p90 = "(50 * n + 99) / 100", "(90 * n + 99) / 100"
    a50, a90 = "(50 * n_all + 99) / 100", "(90 * n_all + 99) / 100"
    # The partition's size from the same window as the row numbers (a frame over the whole
    # partition), so each of the two orderings is sorted once, not twice.
    whole = "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
    # One pass over the period's articles (the first_seen_at index) gives each one's first
    # preview and first human decision (rules decide at creation, with no preview; expiry is
    # nobody's decision) through the article_id indexes; it is materialised once and unpivoted
    # into one row per measured value, metrics numbered in METRICS order. Those rows are numbered
    # twice in one pass, per agency and overall, and only the rows at a wanted rank are kept,
    # so the final groupings read a few hundred rows instead of the values again.
    sql = f"""
WITH arts AS MATERIALIZED (
  SELECT a.id, {AGENCY} AS agency, a.published_at, a.first_seen_at,
    (SELECT MIN(m.sent_at) FROM approval_messages m WHERE m.article_id = a.id) AS pv_at,
    (SELECT MIN(p.decided_at) FROM posts p WHERE p.article_id = a.id
       AND p.decided_at IS NOT NULL AND p.status <> 'expired') AS dec_at
  FROM articles a WHERE {IN_PERIOD}
), d AS (
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
), ranked AS (
  SELECT metric, agency, v,
    ROW_NUMBER() OVER per_agency AS rn, COUNT(*) OVER (per_agency {whole}) AS n,
    ROW_NUMBER() OVER overall AS rn_all, COUNT(*) OVER (overall {whole}) AS n_all
  FROM d
  WINDOW per_agency AS (PARTITION BY metric, {d.bytewise("agency")} ORDER BY v),
    overall AS (PARTITION BY metric ORDER BY v)
), picked AS MATERIALIZED (
  SELECT * FROM ranked
  WHERE rn = {p50} OR rn = {p90} OR rn_all = {a50} OR rn_all = {a90}
)
SELECT metric, agency, MAX(n),
  MAX(CASE WHEN rn = {p50} THEN v END), MAX(CASE WHEN rn = {p90} THEN v END)
FROM picked GROUP BY metric, agency
UNION ALL
SELECT metric, '*', MAX(n_all),
  MAX(CASE WHEN rn_all = {a50} THEN v END), MAX(CASE WHEN rn_all = {a90} THEN v END)
FROM picked GROUP BY metric
"""
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for metric, agency, n, v50, v90 in _run(conn, sql, start, end):
        out.setdefault(agency, {})[METRICS[int(metric)]] = {
            "count": int(n),
            "median_s": round(float(v50), 1) if v50 is not None else None,
            "p90_s": round(float(v90), 1) if v90 is not None else None,
        }
    return out


def failures(conn: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Unsuccessful attempts in the period (by when they happened), by channel and class."""
    d = _Dialect(conn.dialect.name)
    kinds = ", ".join(f"'{k}'" for k in FAILURE_EVENTS)
    sql = (
        f"SELECT {d.json_text('data', 'channel')} AS channel, "
        f"COALESCE({d.json_text('data', 'class')}, '') AS class, kind, COUNT(*) "
        f"FROM audit_events WHERE kind IN ({kinds}) AND at >= :s AND at < :e "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    return [
        {"channel": ch or "", "class": cls or "", "event": kind, "count": int(n)}
        for ch, cls, kind, n in _run(conn, sql, start, end)
    ]


def incidents(conn: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Times a channel was not active (paused, waiting for credentials...), with durations.

    An incident starts at a `channel.<state>` event other than `channel.active` that follows an
    active state (or none) and ends at the channel's next `channel.active`; durations count
    only the part inside the period, and an incident still open counts up to the period's end.
    """
    d = _Dialect(conn.dialect.name)
    sql = f"""
WITH ev AS (
  SELECT id, subject, kind, at, {d.json_text("data", "reason")} AS reason,
    LAG(kind) OVER (PARTITION BY subject ORDER BY id) AS before
  FROM audit_events WHERE kind LIKE 'channel.%' AND at < :e
), inc AS (
  SELECT ev.subject, ev.kind, ev.at AS started, ev.reason,
    (SELECT MIN(x.at) FROM audit_events x WHERE x.subject = ev.subject
       AND x.kind = 'channel.active' AND x.id > ev.id) AS ended
  FROM ev WHERE ev.kind <> 'channel.active' AND (ev.before IS NULL OR ev.before = 'channel.active')
)
SELECT subject, kind, started, ended, reason,
  {
        d.seconds(
            "CASE WHEN started < :s THEN :s ELSE started END",
            "CASE WHEN ended IS NULL OR ended > :e THEN :e ELSE ended END",
        )
    }
FROM inc WHERE ended IS NULL OR ended > :s ORDER BY started
"""
    conv = UTCDateTime()
    out = []
    for subject, kind, started, ended, reason, seconds in _run(conn, sql, start, end):
        out.append(
            {
                "channel": str(subject).removeprefix("channel:"),
                "state": str(kind).removeprefix("channel."),
                "reason": reason,
                "started_at": _as_utc(started, conv, conn),
                "ended_at": _as_utc(ended, conv, conn),
                "seconds_in_period": round(float(seconds), 1),
            }
        )
    return out


def _as_utc(value: Any, conv: UTCDateTime, conn: Connection) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return conv.process_result_value(value, conn.dialect)


def known_agencies(conn: Connection, end: datetime) -> set[str]:
    return set(last_article_at(conn, end, end))


def collect(conn: Connection, start: datetime, end: datetime) -> Mapping[str, Any]:
    """Run every query of one report inside one read transaction (one consistent snapshot)."""
    if conn.dialect.name == "postgresql":
        # Both only for this transaction (SET LOCAL). The correlated MINs make the planner's
        # cost estimate large enough to JIT-compile the timeliness query, which took ~1.6 s of
        # a 5 s year (EXPLAIN ANALYZE, docs/benchmarks.md) to save nothing; and the default
        # 4 MB work_mem sorts a year's ~440,000 stage values on disk.
        try:
            conn.execute(text("SET LOCAL jit = off"))
            conn.execute(text("SET LOCAL work_mem = '64MB'"))
        except SQLAlchemyError as exc:
            raise StorageError(f"report query failed: {exc}") from exc
    return {
        "articles": agency_articles(conn, start, end),
        "last_article_at": last_article_at(conn, start, end),
        "by_category": by_category(conn, start, end),
        "post_states": post_states(conn, start, end),
        "weeks_active": weeks_active(conn, start, end),
        "timeliness": timeliness(conn, start, end),
        "failures": failures(conn, start, end),
        "incidents": incidents(conn, start, end),
    }
