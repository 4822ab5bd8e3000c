"""Report periods: the last complete week, month or quarter, or two dates, in local days.

Pure functions of `now`: the office's days run in Asia/Ho_Chi_Minh, the database keeps UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
Kind = Literal["week", "month", "quarter", "range"]
KINDS = ("week", "month", "quarter")


@dataclass(frozen=True, slots=True)
class Period:
    kind: Kind
    first_day: date  # local, inclusive
    last_day: date  # local, inclusive

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), LOCAL).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: local midnight after the last day."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), LOCAL).astimezone(UTC)

    @property
    def label(self) -> str:
        if self.kind == "quarter":
            return f"Q{(self.first_day.month - 1) // 3 + 1}/{self.first_day.year}"
        if self.kind == "month":
            return f"{self.first_day.month:02d}/{self.first_day.year}"
        return f"{self.first_day:%d/%m/%Y}–{self.last_day:%d/%m/%Y}"

    @property
    def weeks(self) -> int:
        """Whole or partial weeks the period spans (the ranking's regularity denominator)."""
        return ((self.last_day - self.first_day).days // 7) + 1


def last_period(kind: str, now: datetime) -> Period:
    """The last complete week (Mon–Sun), month or quarter before `now`, in local days."""
    today = now.astimezone(LOCAL).date()
    if kind == "week":
        this_monday = today - timedelta(days=today.weekday())
        return Period("week", this_monday - timedelta(days=7), this_monday - timedelta(days=1))
    if kind == "month":
        first_this = today.replace(day=1)
        last_prev = first_this - timedelta(days=1)
        return Period("month", last_prev.replace(day=1), last_prev)
    if kind == "quarter":
        q_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        last_prev = q_start - timedelta(days=1)
        prev_start = date(last_prev.year, 3 * ((last_prev.month - 1) // 3) + 1, 1)
        return Period("quarter", prev_start, last_prev)
    raise ValueError(f"unknown period {kind!r}: use one of {', '.join(KINDS)}")


def date_range(first: str, last: str) -> Period:
    """`--from DATE --to DATE` (YYYY-MM-DD, both inclusive, local days)."""
    try:
        a, b = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError as exc:
        raise ValueError(f"dates must look like 2025-11-14: {exc}") from exc
    if b < a:
        raise ValueError(f"--to {last} is before --from {first}")
    return Period("range", a, b)
