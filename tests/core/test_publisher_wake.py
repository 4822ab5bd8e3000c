"""A decision wakes the publisher at once instead of waiting for the publishing interval."""

from __future__ import annotations

import asyncio
import time

import daemon


async def test_decision_listener_cuts_the_publishers_nap_short() -> None:
    """`_wake_publisher` (the Decisions listener) ends `_nap` long before its timeout."""
    runtime = daemon.Runtime.__new__(daemon.Runtime)
    runtime.wake = asyncio.Event()
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
    runtime.wake = asyncio.Event()
    stop = asyncio.Event()
    napping = asyncio.create_task(runtime._nap(stop, 30.0))
    stop.set()
    await asyncio.wait_for(napping, 5)
