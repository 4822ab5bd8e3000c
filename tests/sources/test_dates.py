"""Table tests for parse_date: Vietnamese, RFC 822, ISO 8601, and the values to refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from syndicator.sources.dates import parse_date

NOW = datetime(2025, 11, 15, 0, 0, tzinfo=UTC)
# 08:30 in Hanoi on 14 November 2025.
HANOI_0830 = datetime(2025, 11, 14, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14/11/2025 08:30", HANOI_0830),
        ("14/11/2025 8:30:00", HANOI_0830),
        ("Thứ Sáu, 14/11/2025 - 08:30", HANOI_0830),
        ("08:30 ngày 14/11/2025", HANOI_0830),
        ("14-11-2025 08h30", HANOI_0830),
        ("14.11.2025 08:30", HANOI_0830),
        ("2025/11/14 08:30", HANOI_0830),
        ("11/14/2025 8:30:00 AM", HANOI_0830),
        ("11/14/2025 8:30:00 PM", HANOI_0830 + timedelta(hours=12)),
        ("14/11/2025 12:15 AM", datetime(2025, 11, 13, 17, 15, tzinfo=UTC)),
        ("14/11/2025 08:30 GMT+7", HANOI_0830),
        ("ngày 27 tháng 9 năm 2012", datetime(2012, 9, 26, 17, 0, tzinfo=UTC)),
        ("Hà Nội, ngày 27 tháng 9 năm 2012", datetime(2012, 9, 26, 17, 0, tzinfo=UTC)),
        ("27/9/2012", datetime(2012, 9, 26, 17, 0, tzinfo=UTC)),
        ("05/11/2025", datetime(2025, 11, 4, 17, 0, tzinfo=UTC)),
        ("Fri, 14 Nov 2025 08:30:00 +0700", HANOI_0830),
        ("Fri, 14 Nov 2025 08:30:00", HANOI_0830),
        ("Fri, 14 Nov 2025 01:30:00 GMT", HANOI_0830),
        ("Fri, 14 Nov 25 08:30:00 +0700", HANOI_0830),
        ("14 Nov 2025 08:30 ICT", HANOI_0830),
        ("Thu, 13 Nov 2025 20:30:00 -0500", HANOI_0830),
        ("2025-11-14T08:30:00+07:00", HANOI_0830),
        ("2025-11-14T01:30:00Z", HANOI_0830),
        ("2025-11-14 08:30:00", HANOI_0830),
        ("2025-11-14T08:30:00.123456+07:00", HANOI_0830 + timedelta(microseconds=123456)),
        ("  \n Fri, 14 Nov 2025 08:30:00 +0700 \n", HANOI_0830),
    ],
)
def test_readable_dates(text: str, expected: datetime) -> None:
    """Each shape portals use is read as the right instant, in aware UTC."""
    result = parse_date(text, NOW)
    assert result == expected
    assert result is not None and result.tzinfo is UTC


def test_fake_gmt_is_taken_as_given() -> None:
    """A 'GMT' that is really local time cannot be detected, so it is read as GMT."""
    assert parse_date("Fri, 14 Nov 2025 08:30:00 GMT", NOW) == HANOI_0830 + timedelta(hours=7)


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "garbage",
        "Mon, 01 Jan 0001 00:00:00 GMT",  # .NET DateTime.MinValue; email.utils says 2001
        "0001-01-01T00:00:00",
        "01/01/1900",
        "31/02/2025",
        "14/13/2025",
        "25/11/2025",  # ten days after NOW
        "Τετ, 29 Σεπ 2004 12:53:00 GMT",  # Greek date from a feedparser fixture
        "Fri, 14 Xyz 2025 08:30:00",
    ],
)
def test_refused_dates(text: str | None) -> None:
    """Missing, unreadable, placeholder and future dates give None."""
    assert parse_date(text, NOW) is None


def test_up_to_a_day_ahead_is_accepted() -> None:
    """Clock drift of less than a day is tolerated; more is refused."""
    assert parse_date("15/11/2025 23:00", NOW) is not None  # 16:00 UTC, 16 h ahead
    assert parse_date("16/11/2025 08:00", NOW) is None  # 25 h ahead


def test_datetime_input() -> None:
    """A datetime from a parser is kept, naive ones read as Hanoi time, aware ones converted."""
    naive = datetime(2025, 11, 14, 8, 30)
    aware = datetime(2025, 11, 14, 8, 30, tzinfo=timezone(timedelta(hours=7)))
    assert parse_date(naive, NOW) == HANOI_0830
    assert parse_date(aware, NOW) == HANOI_0830
    assert parse_date(datetime(1, 1, 1), NOW) is None
