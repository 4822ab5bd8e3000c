"""A running poller keeps no per-source memory in RAM once it is stored (issue 11, peak RSS),
and still parses only the changed items of the next document: it reads the memory back."""

from __future__ import annotations

import pytest

import daemon
from syndicator.config import parse_config
from syndicator.sandbox.portal import PortalServer
from tests.core.test_incremental_poll import feed
from tests.core.test_restart_memory import Spy


async def test_same_poller_reads_its_memory_back(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between polls the poller holds nothing; the next change parses and normalises only the
    new item, and an edit is still seen as a change."""
    spy = Spy(monkeypatch)
    settings = parse_config(
        {"database": {"url": db_url}, "sources": [{"id": "s", "url": portal.url("/f.xml")}]}
    )
    storage = daemon.build_storage(settings)
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client)
        portal.put("/f.xml", feed(("1", "Tin một"), ("2", "Tin hai")))
        (report,) = await poller.poll()
        assert report.new == 2
        assert (poller.memory._items, poller.memory._seen) == ({}, {})  # held in the database only
        assert storage.poll_memories(["s"])

        spy.reset()
        portal.put("/f.xml", feed(("3", "Tin ba"), ("1", "Tin một"), ("2", "Tin hai")))
        (report,) = await poller.poll()
        assert (report.new, report.changed, report.errors) == (1, 0, [])
        assert spy.parsed == [1]  # the header, item 3 and the footer only
        assert spy.normalised == ["3"]
        assert (poller.memory._items, poller.memory._seen) == ({}, {})

        spy.reset()
        portal.put("/f.xml", feed(("3", "Tin ba"), ("1", "Tin một (đã sửa)"), ("2", "Tin hai")))
        (report,) = await poller.poll()
        assert (report.new, report.changed) == (0, 1)
        assert spy.normalised == ["1"]
    assert storage.verify_audit().ok
    storage.close()
