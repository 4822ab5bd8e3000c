"""A decision wakes the publisher at once instead of waiting for the publishing interval."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import daemon
from syndicator.config import parse_config


async def test_decision_listener_cuts_the_publishers_nap_short() -> None:
    """`_wake_publisher` (the Decisions listener) ends `_nap` long before its timeout."""
    runtime = daemon.Runtime.__new__(daemon.Runtime)
    runtime.wake, runtime.stored = asyncio.Event(), asyncio.Event()
    runtime._loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    started = time.monotonic()
    napping = asyncio.create_task(runtime._nap(stop, 30.0))
    await asyncio.sleep(0.05)
    await asyncio.to_thread(runtime._wake_publisher, 7)  # a decision made off the loop
    await asyncio.wait_for(napping, 5)
    assert time.monotonic() - started < 5


async def test_stop_also_ends_the_nap() -> None:
    """Stopping the daemon ends the nap too."""
    runtime = daemon.Runtime.__new__(daemon.Runtime)
    runtime.wake, runtime.stored = asyncio.Event(), asyncio.Event()
    stop = asyncio.Event()
    napping = asyncio.create_task(runtime._nap(stop, 30.0))
    stop.set()
    await asyncio.wait_for(napping, 5)


class _Publisher:
    """What publish_loop asks of the publisher, counted: whole turns and plan-only calls."""

    def __init__(self, sendable: bool) -> None:
        self.turns = 0
        self.plans = 0
        self.sendable = sendable

    async def reconcile_all(self, *, startup: bool = False) -> None:
        pass

    async def run_once(self) -> None:
        self.turns += 1

    def next_send_in(self, default: float) -> float:
        return default

    def plan_new(self) -> bool:  # on the storage thread, as the daemon calls it
        self.plans += 1
        return self.sendable


async def _publish_loop(sendable: bool) -> tuple[daemon.Runtime, _Publisher, asyncio.Event, Any]:
    runtime = daemon.Runtime.__new__(daemon.Runtime)
    runtime.wake, runtime.stored = asyncio.Event(), asyncio.Event()
    runtime._loop = asyncio.get_running_loop()
    runtime.publisher = publisher = _Publisher(sendable)  # type: ignore[assignment]
    runtime.settings = parse_config({"publishing": {"interval": "30s"}})
    runtime.decision_watch = object()  # type: ignore[assignment]  # not started here

    async def lead(stop: asyncio.Event) -> bool:
        return True

    runtime.lead = lead  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.publish_loop(stop))
    await _until(lambda: publisher.turns == 1)
    return runtime, publisher, stop, task


async def _until(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not reached within 5 s")


async def test_new_pending_articles_are_planned_without_a_whole_turn() -> None:
    """A poll that stored articles wakes the publisher to plan them, and only that, when none
    of them is ready to go (manual approval): no reconcile, take-down or drain pass."""
    runtime, publisher, stop, task = await _publish_loop(sendable=False)
    for n in (1, 2):
        runtime.stored.set()
        await _until(lambda n=n: publisher.plans == n)
    await asyncio.sleep(0.05)
    assert publisher.turns == 1
    runtime._wake_publisher(3)  # a decision still brings a whole turn at once
    await _until(lambda: publisher.turns == 2)
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_an_article_ready_to_go_brings_a_whole_turn_at_once() -> None:
    """Auto-approved on planning: the drain runs now, not at the publishing interval."""
    runtime, publisher, stop, task = await _publish_loop(sendable=True)
    runtime.stored.set()
    await _until(lambda: publisher.turns == 2)
    assert publisher.plans == 1
    stop.set()
    await asyncio.wait_for(task, 5)


class _Poller:
    """One poll_due() answer, then nothing (what poll_loop asks of the poller)."""

    polled_all = True
    in_flight = 0

    def __init__(self, reports: list[Any]) -> None:
        self.reports = reports

    async def poll_due(self) -> list[Any]:
        reports, self.reports = self.reports, []
        return reports

    async def close(self) -> None:
        pass


async def _after_poll(**report: Any) -> daemon.Runtime:
    from syndicator.poll_records import SourceReport

    runtime = daemon.Runtime.__new__(daemon.Runtime)
    runtime.wake, runtime.stored = asyncio.Event(), asyncio.Event()
    runtime.first_wave = asyncio.Event()
    runtime.poller = _Poller([SourceReport("portal", fetched=1, **report)])  # type: ignore[assignment]
    runtime.metrics = type("M", (), {"poll_cycle": lambda self, reports: None})()  # type: ignore[assignment]
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.poll_loop(stop))
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 5)
    return runtime


async def test_articles_planned_as_stored_wake_the_publisher_only_when_one_is_ready() -> None:
    """The poller plans what it stores (Poller.planner): a post ready to go (auto-approved)
    brings a publisher turn; new articles it could not plan are planned at once; new
    articles planned as stored, waiting for a human, wake nothing (their previews go out
    from the preview desk's own reads)."""
    ready = await _after_poll(new=1, sendable=True)
    assert ready.wake.is_set() and not ready.stored.is_set()
    unplanned = await _after_poll(new=2, unplanned=1)
    assert unplanned.stored.is_set() and not unplanned.wake.is_set()
    waiting = await _after_poll(new=3)
    assert not waiting.stored.is_set() and not waiting.wake.is_set()
