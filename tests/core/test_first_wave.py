"""The poller says when its first wave is over (every source polled once): the daemon then
freezes its heap, before the steady state rather than a minute into it (issue 11)."""

from __future__ import annotations

import asyncio

import daemon
from syndicator.sandbox.portal import PortalServer
from syndicator.storage import open_storage
from tests.core.test_hostile_portals import START, rss, settings_for


async def test_polled_all_once_every_source_has_finished_a_poll(
    portal: PortalServer, db_url: str
) -> None:
    """A broken source counts as polled too; a slow one keeps the wave open until it ends."""
    portal.put("/a.rss", rss(("1", "Tin một")))
    portal.put("/b.rss", rss(("2", "Tin hai")))
    portal.add_fault("slow", scope="/b.rss", delay=1.5)  # b answers late
    sources = [
        {"id": "a", "url": portal.url("/a.rss")},
        {"id": "b", "url": portal.url("/b.rss")},
        {"id": "c", "url": portal.url("/missing.rss")},  # 404: a failed poll
    ]
    settings = settings_for(db_url, sources, fetch={"deadline": "20s"})
    storage = open_storage(db_url)
    try:
        async with daemon.build_http_client(settings) as client:
            poller = daemon.build_poller(settings, storage, client, clock=lambda: START)
            assert not poller.polled_all
            done: list[str] = []
            while "b" not in done:
                done += [r.source_id for r in await poller.poll_due()]
                assert poller.polled_all == ("b" in done)
                await asyncio.sleep(0.05)
            assert sorted(done) == ["a", "b", "c"] and poller.polled_all
            await poller.close()
    finally:
        storage.close()
