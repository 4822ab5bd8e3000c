"""Every report figure as one SQL aggregation; Python only reshapes the grouped rows.

Both backends: SQLite (3.25+, window functions and json_each) and PostgreSQL. The few
dialect differences (seconds between two timestamps, expanding a JSON list, floor) are
spelled out in `sql.Dialect`. The timeliness percentiles, most of a year's time, have their
own module (timeliness.py: nearest rank, ranked in SQL by each backend's cheapest means).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from syndicator.errors import StorageError
from syndicator.reports.sql import AGENCY, IN_PERIOD, METRICS, Dialect
from syndicator.reports.sql import run as _run
from syndicator.reports.timeliness import timeliness
from syndicator.storage.models import UTCDateTime

__all__ = ["METRICS", "collect", "timeliness"]  # build.py and the tests use these from here

# Events that say an attempt did not go through; their data carries channel and class.
FAILURE_EVENTS = (
    "post.failed",
    "post.retry",
    "post.throttled",
    "post.needs_human",
    "post.ambiguous",
    "post.waiting_credentials",
)


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
    d = Dialect(conn.dialect.name)
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
    d = Dialect(conn.dialect.name)
    week = d.floor(f"{d.seconds(':s', 'a.first_seen_at')} / 604800.0")
    sql = (
        f"SELECT {AGENCY} AS agency, COUNT(DISTINCT {week}) FROM articles a "
        f"WHERE {IN_PERIOD} GROUP BY 1"
    )
    return {r[0]: int(r[1]) for r in _run(conn, sql, start, end)}


def failures(conn: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Unsuccessful attempts in the period (by when they happened), by channel and class."""
    d = Dialect(conn.dialect.name)
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
    d = Dialect(conn.dialect.name)
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
