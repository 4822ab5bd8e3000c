"""The daemon's periodic loops wake together (service.aligned): same period or multiples,
whatever moment each finished its work, so their work runs back to back (issue 11)."""

from __future__ import annotations

import asyncio
import time

import pytest

from syndicator.service import aligned, sleep_aligned


@pytest.mark.parametrize(
    ("period", "now", "expected"),
    [(1.0, 5.3, 0.7), (2.0, 5.3, 0.7), (2.0, 6.25, 1.75), (10.0, 123.5, 6.5), (0.2, 7.05, 0.15)],
)
def test_sleeps_until_the_next_multiple_of_the_period(
    period: float, now: float, expected: float
) -> None:
    assert aligned(period, now) == pytest.approx(expected)


def test_at_a_boundary_it_sleeps_a_whole_period_never_zero() -> None:
    # A loop that finished its work exactly on a boundary must not run again at once.
    assert aligned(1.0, 42.0) == pytest.approx(1.0)
    assert aligned(2.0, 42.0) == pytest.approx(2.0)


def test_a_zero_period_waits_nothing() -> None:
    # `[publishing] interval = "0s"` naps zero seconds, as before (no division by zero).
    assert aligned(0.0, 42.5) == 0.0


def test_loops_that_finished_at_different_moments_wake_together() -> None:
    """Two 1 s loops whose work ended at different moments of a second wake at the same
    instant; a 2 s loop wakes on an even second, when the 1 s loops wake too."""
    assert 10.05 + aligned(1.0, 10.05) == pytest.approx(11.0)
    assert 10.93 + aligned(1.0, 10.93) == pytest.approx(11.0)
    assert 10.4 + aligned(2.0, 10.4) == pytest.approx(12.0)
    assert 11.0 + aligned(1.0, 11.0) == pytest.approx(12.0)  # the period is kept


async def test_sleep_aligned_ends_at_a_boundary_or_at_stop() -> None:
    stop = asyncio.Event()
    await sleep_aligned(stop, 0.2)
    # Woken within a few ms after a multiple of 0.2 s on the monotonic clock.
    assert time.monotonic() % 0.2 < 0.05
    stop.set()
    started = time.monotonic()
    await sleep_aligned(stop, 60.0)
    assert time.monotonic() - started < 1.0
