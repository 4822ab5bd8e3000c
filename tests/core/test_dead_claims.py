"""A daemon killed mid-poll holds its claimed sources only for 3 x fetch.deadline (issue 11).

bench/chaos.py found the old 10-minute floor on the claim lease: every source a SIGKILLed
daemon had claimed went unpolled for 10 minutes, whatever the deadline.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import daemon
from syndicator.sandbox.portal import PortalServer
from syndicator.storage import open_storage
from tests.core.test_hostile_portals import START, rss, settings_for


async def test_a_dead_pollers_claim_runs_out_after_three_deadlines(
    portal: PortalServer, db_url: str
) -> None:
    portal.put("/a.rss", rss(("1", "Tin một")))
    portal.add_fault("drip", scope="/a.rss", every=0.5)  # the first poll stays in flight
    settings = settings_for(
        db_url, [{"id": "a", "url": portal.url("/a.rss"), "interval": "10s"}],
        fetch={"deadline": "5s"},
    )  # fmt: skip
    storage = open_storage(db_url)
    try:
        async with daemon.build_http_client(settings) as client:
            dying = daemon.build_poller(settings, storage, client, clock=lambda: START)
            await dying.poll_due()
            assert dying.in_flight == 1
            while not portal.hits.get("/a.rss"):  # the drip has begun
                await asyncio.sleep(0.05)
            await dying.close()  # killed: the claim is never recorded nor released
            now = [START + timedelta(seconds=14)]
            other = daemon.build_poller(settings, storage, client, clock=lambda: now[0])
            assert await other.poll_due() == [] and other.in_flight == 0  # still claimed
            now[0] = START + timedelta(seconds=16)  # past 3 x 5 s
            reports = []
            for _ in range(100):
                reports += await other.poll_due()
                if reports:
                    break
                await asyncio.sleep(0.05)
            assert [r.source_id for r in reports] == ["a"]
            assert storage.count_articles() == 1
            await other.close()
    finally:
        storage.close()
