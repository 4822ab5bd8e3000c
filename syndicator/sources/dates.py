"""Reading the publication times that portals write, in the many shapes they write them.

Every result is an aware UTC datetime. A time without a zone is read as Asia/Ho_Chi_Minh,
because that is what Vietnamese portals mean by it. Numeric dates are read day-first
(14/11/2025) unless day-first is impossible (11/14/2025), as Vietnamese write them.

We parse RFC 822 ourselves instead of using `email.utils`: it turns the year "0001" that .NET
portals emit for `DateTime.MinValue` into 2001, a plausible but false date.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# Nothing an official portal publishes predates the web; older years are placeholders.
MIN_YEAR = 1990
# Clocks drift and editors pre-date items a little; more than this is a wrong date.
MAX_AHEAD = timedelta(days=1)

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_ZONES = {
    "GMT": 0, "UT": 0, "UTC": 0, "Z": 0, "ICT": 7 * 60,
    "EST": -5 * 60, "EDT": -4 * 60, "CST": -6 * 60, "CDT": -5 * 60,
    "MST": -7 * 60, "MDT": -6 * 60, "PST": -8 * 60, "PDT": -7 * 60,
}  # fmt: skip

_RFC822 = re.compile(
    r"^(?:[A-Za-z]{3,9},?\s+)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{2,4})"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
    r"\s*([+-]\d{2}:?\d{2}|[A-Za-z]{1,5})?$"
)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$")
_TIME = re.compile(r"(?<!\d)(\d{1,2})\s*[:hg]\s*(\d{2})(?::(\d{2}))?(?:\s*(AM|PM|SA|CH)\b)?", re.I)
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})(?!\d)")
_YEAR_FIRST_DATE = re.compile(r"(?<!\d)(\d{4})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})(?!\d)")
_WORDY_DATE = re.compile(
    r"(?:ngày\s+)?(\d{1,2})\s+tháng\s+(\d{1,2})\s*(?:năm|,|/)?\s*(\d{4})", re.IGNORECASE
)
_ZONE_SUFFIX = re.compile(r"(?:GMT|UTC)?\s*([+-])(\d{1,2}):?(\d{2})?\s*$")


def parse_date(text: str | datetime | None, now: datetime) -> datetime | None:
    """Read a publication time; None when absent, unreadable, absurd or too far in the future."""
    if text is None:
        return None
    if isinstance(text, datetime):
        parsed: datetime | None = text
    else:
        cleaned = " ".join(unicodedata.normalize("NFC", text).split())
        parsed = _parse_text(cleaned) if cleaned else None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_TZ)
    try:
        result = parsed.astimezone(UTC)
    except OverflowError:  # year 1 minus an offset falls off the calendar
        return None
    if result.year < MIN_YEAR or result > now + MAX_AHEAD:
        return None
    return result


def _parse_text(text: str) -> datetime | None:
    """Try each known shape in turn, most specific first."""
    for parser in (_parse_iso, _parse_rfc822, _parse_vietnamese):
        try:
            result = parser(text)
        except (ValueError, OverflowError):  # e.g. 31/02, hour 25: unreadable, not fatal
            result = None
        if result is not None:
            return result
    return None


def _parse_iso(text: str) -> datetime | None:
    if not _ISO.match(text):
        return None
    return datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)


def _parse_rfc822(text: str) -> datetime | None:
    match = _RFC822.match(text)
    if not match:
        return None
    day, month_name, year_text, hour, minute, second, zone = match.groups()
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    year = int(year_text)
    if len(year_text) == 2:  # RFC 2822 section 4.3: two-digit years
        year += 2000 if year < 50 else 1900
    elif len(year_text) == 3:
        year += 1900
    result = datetime(year, month, int(day), int(hour or 0), int(minute or 0), int(second or 0))
    if zone is None:
        return result  # no zone: local time, decided by the caller
    offset = _zone_offset(zone)
    if offset is None:
        return result  # unknown military/odd zone: treat as absent rather than fail
    return result.replace(tzinfo=timezone(timedelta(minutes=offset)))


def _zone_offset(zone: str) -> int | None:
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + int(digits[2:])
        return -minutes if zone[0] == "-" else minutes
    return _ZONES.get(zone.upper())


def _parse_vietnamese(text: str) -> datetime | None:
    """Dates as Vietnamese portals print them, with an optional time anywhere around them."""
    year_first = _YEAR_FIRST_DATE.search(text)
    numeric = _NUMERIC_DATE.search(text)
    wordy = _WORDY_DATE.search(text)
    if wordy:
        day, month, year = (int(g) for g in wordy.groups())
        rest = text[: wordy.start()] + " " + text[wordy.end() :]
    elif numeric:
        first, second, year = (int(g) for g in numeric.groups())
        # Day-first is the Vietnamese order; month-first only when day-first cannot be right.
        day, month = (second, first) if second > 12 >= first else (first, second)
        rest = text[: numeric.start()] + " " + text[numeric.end() :]
    elif year_first:
        year, month, day = (int(g) for g in year_first.groups())
        rest = text[: year_first.start()] + " " + text[year_first.end() :]
    else:
        return None
    result = datetime(year, month, day)
    time_match = _TIME.search(rest)
    if time_match:
        hour, minute = int(time_match.group(1)), int(time_match.group(2))
        second = int(time_match.group(3) or 0)
        meridiem = (time_match.group(4) or "").upper()
        if meridiem in ("PM", "CH") and hour < 12:  # CH = chiều (afternoon)
            hour += 12
        elif meridiem in ("AM", "SA") and hour == 12:  # SA = sáng (morning)
            hour = 0
        result = result.replace(hour=hour, minute=minute, second=second)
        rest = rest[time_match.end() :]
    zone = _ZONE_SUFFIX.search(rest)
    if zone:
        sign, hours, minutes = zone.groups()
        offset = int(hours) * 60 + int(minutes or 0)
        result = result.replace(
            tzinfo=timezone(timedelta(minutes=-offset if sign == "-" else offset))
        )
    return result
