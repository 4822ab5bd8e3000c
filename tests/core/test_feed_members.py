"""The poller stores the members of each document it stores (for the watcher), across restarts."""

from __future__ import annotations

import pytest

import daemon
from syndicator.config import parse_config
from syndicator.poll_memory import member_guids
from syndicator.sandbox.portal import PortalServer
from tests.core.test_incremental_poll import feed
from tests.core.test_restart_memory import Spy, poll_once


async def test_members_follow_the_feed_and_a_legacy_memory_is_refreshed_once(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members are the stored document's items in order, trimmed or not; a memory without
    members (stored before migration 0011) costs one whole parse, then trimming resumes."""
    spy = Spy(monkeypatch)
    settings = parse_config(
        {"database": {"url": db_url}, "sources": [{"id": "s", "url": portal.url("/f.xml")}]}
    )
    storage = daemon.build_storage(settings)

    def members() -> list[str] | None:
        guids = member_guids(storage.poll_members(["s"]).get("s"))
        return None if guids is None else [g.rsplit("/", 1)[-1] for g in guids]

    portal.put("/f.xml", feed(("2", "Tin hai"), ("1", "Tin một")))
    await poll_once(settings, storage)
    assert members() == ["2", "1"]

    spy.reset()  # trimmed to item 3; items 2 and 1 keep their guids from the memory
    portal.put("/f.xml", feed(("3", "Tin ba"), ("2", "Tin hai"), ("1", "Tin một")))
    await poll_once(settings, storage)
    assert spy.parsed == [1] and members() == ["3", "2", "1"]

    spy.reset()  # item 2 withdrawn: nothing new to parse, the members still change
    portal.put("/f.xml", feed(("3", "Tin ba"), ("1", "Tin một")))
    await poll_once(settings, storage)
    assert spy.parsed == [0] and members() == ["3", "1"]

    with storage.engine.begin() as conn:  # as migration 0011 leaves a 0009 memory
        conn.exec_driver_sql("UPDATE source_memory SET members = NULL")
    spy.reset()
    portal.put("/f.xml", feed(("4", "Tin bốn"), ("3", "Tin ba"), ("1", "Tin một")))
    report = await poll_once(settings, storage)
    assert (report.new, report.changed, report.errors) == (1, 0, [])
    assert spy.parsed == [3] and members() == ["4", "3", "1"]  # parsed whole, once

    spy.reset()
    portal.put("/f.xml", feed(("5", "Tin năm"), ("4", "Tin bốn"), ("3", "Tin ba")))
    await poll_once(settings, storage)
    assert spy.parsed == [1] and members() == ["5", "4", "3"]  # trimmed again
    storage.close()
