"""What every report query shares: the agency expression, the period filter, the few dialect
differences between SQLite and PostgreSQL, and running a statement with the period's bounds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from syndicator.errors import StorageError
from syndicator.storage.models import UTCDateTime

AGENCY = "CASE WHEN a.agency = '' THEN a.source_id ELSE a.agency END"
METRICS = ("portal_to_detected", "detected_to_preview", "preview_to_decision", "decision_to_live")


@dataclass(frozen=True, slots=True)
class Dialect:
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


def run(conn: Connection, sql: str, start: datetime, end: datetime) -> list[Any]:
    """The statement's rows (none for an INSERT), with :s and :e bound to the period."""
    stmt = text(sql).bindparams(
        bindparam("s", type_=UTCDateTime()), bindparam("e", type_=UTCDateTime())
    )
    try:
        result = conn.execute(stmt, {"s": start, "e": end})
        return list(result) if result.returns_rows else []
    except SQLAlchemyError as exc:
        raise StorageError(f"report query failed: {exc}") from exc


# Articles are counted by when syndicator first saw them (first_seen_at, indexed); posts and
# timeliness follow those articles (a cohort), so one week's figures do not move later.
IN_PERIOD = "a.first_seen_at >= :s AND a.first_seen_at < :e"
