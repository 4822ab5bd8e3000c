"""When to check a source next: a pure decision from its interval, errors and server hints."""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def next_check(
    now: datetime,
    interval: timedelta,
    *,
    error_count: int = 0,
    retry_after: timedelta | None = None,
    max_age: timedelta | None = None,
    jitter: float = 0.1,
    max_backoff: timedelta = timedelta(hours=6),
    rng: random.Random | None = None,
) -> datetime:
    """Next check time.

    Healthy: one interval. After n consecutive errors: interval x 2^n, capped at max_backoff, so a
    dead site is still tried every few hours and never silently dropped. Retry-After and
    Cache-Control max-age are lower bounds (capped too: a server cannot park us for a year).
    Jitter spreads sources that share an interval so they do not hit one host together.
    """
    delay = interval
    if error_count > 0:
        factor = 2 ** min(error_count, 20)
        delay = min(interval * factor, max(max_backoff, interval))
    for hint in (retry_after, max_age):
        if hint is not None and hint > delay:
            delay = min(hint, max(max_backoff, interval))
    spread = (rng or random).uniform(0, jitter) if jitter > 0 else 0.0
    return now + delay + delay * spread
