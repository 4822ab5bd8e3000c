"""When a channel may publish next: min_interval, max_per_day and quiet hours. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def local_midnight(now: datetime) -> datetime:
    """Start of today in Asia/Ho_Chi_Minh, as aware UTC."""
    local = now.astimezone(LOCAL)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def quiet_until(now: datetime, window: tuple[time, time] | None) -> datetime | None:
    """The end of the quiet window containing `now` (UTC), or None outside it."""
    if window is None:
        return None
    start, end = window
    local = now.astimezone(LOCAL)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if (start < end or t < end) else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=LOCAL).astimezone(UTC)


def next_allowed(
    now: datetime,
    *,
    min_interval: timedelta | None,
    max_per_day: int | None,
    quiet_window: tuple[time, time] | None,
    last_published_at: datetime | None,
    published_today: int,
) -> datetime:
    """The earliest time the next post may go out (`now` when nothing holds it back)."""
    when = now
    if min_interval and last_published_at is not None:
        when = max(when, last_published_at + min_interval)
    if max_per_day is not None and published_today >= max_per_day:
        when = max(when, local_midnight(now) + timedelta(days=1))
    # The quiet window is checked at the candidate time, which may itself fall in it.
    for _ in range(2):
        end = quiet_until(when, quiet_window)
        if end is None:
            break
        when = end
    return when
