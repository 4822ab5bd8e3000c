"""Schedule times from buttons and replies ("15:30", "15:30 24/11"), in Asia/Ho_Chi_Minh. Pure."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
PRESETS = ("1h", "3h", "7am")
_WHEN = re.compile(
    r"^\s*(\d{1,2})[:hg.](\d{2})\s*(?:(?:ngày\s*)?(\d{1,2})[/-](\d{1,2})(?:[/-](\d{2,4}))?)?\s*$",
    re.IGNORECASE,
)


def preset_time(name: str, now: datetime) -> datetime:
    """+1 h, +3 h, or 07:00 tomorrow (local), as aware UTC."""
    if name == "1h":
        return now + timedelta(hours=1)
    if name == "3h":
        return now + timedelta(hours=3)
    if name == "7am":
        local = now.astimezone(LOCAL)
        tomorrow = (local + timedelta(days=1)).replace(hour=7, minute=0, second=0, microsecond=0)
        return tomorrow.astimezone(UTC)
    raise ValueError(f"unknown schedule preset {name!r}")


def parse_when(text: str, now: datetime) -> datetime:
    """A local time, optionally with a day/month[/year], as aware UTC.

    "15:30" means the next 15:30 (today, or tomorrow when already past); with a date and no
    year the current year is meant. A date in the past is returned as is: the caller refuses it.
    Raises ValueError on text it cannot read.
    """
    match = _WHEN.match(text)
    if not match:
        raise ValueError(text)
    hour, minute, day, month, year = match.groups()
    local_now = now.astimezone(LOCAL)
    try:
        if day is None:
            when = local_now.replace(hour=int(hour), minute=int(minute), second=0, microsecond=0)
            if when <= local_now:
                when += timedelta(days=1)
        else:
            full_year = local_now.year if year is None else int(year)
            if full_year < 100:
                full_year += 2000
            when = datetime(full_year, int(month), int(day), int(hour), int(minute), tzinfo=LOCAL)
    except ValueError as exc:  # 25:00, 31/02 ...
        raise ValueError(text) from exc
    return when.astimezone(UTC)
