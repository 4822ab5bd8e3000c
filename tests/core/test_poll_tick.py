"""A poll tick's storage work in one hand-off: the outcomes queued since the last tick are
stored, what is due is read and claimed (Poller._tick_storage); neither failure stops the other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

import daemon
from syndicator.sandbox.portal import PortalServer
from syndicator.storage import aio, open_storage
from tests.core.test_hostile_portals import START, rss, settings_for


def _settings(portal: PortalServer, db_url: str, ids: list[str]) -> Any:
    for sid in ids:
        portal.put(f"/{sid}.rss", rss(("1", f"Tin {sid}")))
    sources = [{"id": sid, "url": portal.url(f"/{sid}.rss"), "interval": "10s"} for sid in ids]
    return settings_for(db_url, sources, fetch={"deadline": "5s"})  # a claim lasts 15 s


async def _settle(poller: Any) -> list[Any]:
    """Ticks until every poll in flight has finished; their reports."""
    reports: list[Any] = []
    for _ in range(200):
        reports += await poller.poll_due()
        if poller.in_flight == 0 and reports:
            return reports
        await asyncio.sleep(0.05)
    raise AssertionError("the polls never finished")


async def _polled_again(poller: Any, now: list[Any]) -> None:
    """Claim both sources again at +30 s and let their polls end without another tick: their
    outcomes wait in the recorder, the sources' stored next check is the claim's lease."""
    now[0] = START + timedelta(seconds=30)
    await poller.poll_due()
    assert poller.in_flight == 2
    for _ in range(200):
        if poller.in_flight == 0:
            break
        await asyncio.sleep(0.05)
    assert poller.in_flight == 0 and len(poller.records._pending) == 2
    now[0] = START + timedelta(seconds=60)  # past the lease: due again


@contextlib.asynccontextmanager
async def _polled_twice(
    portal: PortalServer, db_url: str
) -> AsyncIterator[tuple[Any, Any, list[Any]]]:
    """A poller of two sources whose second polls (+30 s) ended without another tick, at
    +60 s (both due again): (poller, storage, the settable now)."""
    settings = _settings(portal, db_url, ["a", "b"])
    storage = open_storage(db_url)
    now = [START]
    try:
        async with daemon.build_http_client(settings) as client:
            poller = daemon.build_poller(settings, storage, client, clock=lambda: now[0])
            await _settle(poller)
            await _polled_again(poller, now)
            yield poller, storage, now
            await poller.close()  # what is still in flight is cancelled
    finally:
        storage.close()


async def test_one_hand_off_stores_outcomes_and_claims(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _polled_twice(portal, db_url) as (poller, storage, now):
        calls: list[str] = []
        real = aio.call

        async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append(getattr(fn, "__name__", repr(fn)))
            return await real(fn, *args, **kwargs)

        monkeypatch.setattr(aio, "call", counted)
        await poller.poll_due()
        assert calls == ["_tick_storage"]
        assert poller.in_flight == 2 and not poller.records._pending
        # The +30 s outcomes are stored and the sources claimed again: their next check is
        # the new lease (15 s), past the interval (10 s).
        for state in storage.source_states(["a", "b"]).values():
            assert state.last_checked_at.replace(tzinfo=None) == (
                START + timedelta(seconds=30)
            ).replace(tzinfo=None)
            assert state.next_check_at.replace(tzinfo=None) == (
                now[0] + timedelta(seconds=15)
            ).replace(tzinfo=None)
        monkeypatch.setattr(aio, "call", real)


async def test_a_failed_store_does_not_stop_the_claims(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _polled_twice(portal, db_url) as (poller, storage, _now):
        real = storage.record_polls

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("disk full")

        monkeypatch.setattr(storage, "record_polls", broken)
        with pytest.raises(RuntimeError, match="disk full"):
            await poller.poll_due()
        assert poller.in_flight == 2  # claimed and started all the same
        monkeypatch.setattr(storage, "record_polls", real)
        reports = await _settle(poller)  # the +30 s polls' reports and the +60 s ones
        assert sorted(r.source_id for r in reports) == ["a", "a", "b", "b"]
        await poller.poll_due()  # these outcomes are stored at the next tick
        assert not poller.records._pending
