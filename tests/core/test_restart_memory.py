"""A restarted poller (a new Poller on the same database) still parses only changed items."""

from __future__ import annotations

from typing import Any

import pytest

import daemon
import syndicator.poller as poller_module
import syndicator.sources.prepare as prepare_module
from syndicator.config import parse_config
from syndicator.sandbox.portal import PortalServer
from syndicator.storage import Storage
from syndicator.storage.aio import call as aio_call
from tests.core.test_incremental_poll import feed


class Spy:
    """Counts what the real parse and normalise functions were given (and still calls them).

    Everything is prepared in this process (no parse worker: a worker's calls are not seen
    here); tests/core/test_parse_workers.py covers the worker."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.parsed: list[int] = []  # items in each document handed to the parser
        self.normalised: list[str] = []  # guids
        parse, normalise = poller_module.parse_document, prepare_module.normalise
        monkeypatch.setattr("syndicator.build.default_processes", lambda: 0)

        def spy_parse(kind: str, body: bytes, *args: Any) -> Any:
            self.parsed.append(body.count(b"<item>"))
            return parse(kind, body, *args)

        def spy_normalise(entry: Any, **kw: Any) -> Any:
            self.normalised.append(str(entry.guid).rsplit("/", 1)[-1])
            return normalise(entry, **kw)

        monkeypatch.setattr(poller_module, "parse_document", spy_parse)
        monkeypatch.setattr(prepare_module, "normalise", spy_normalise)

    def reset(self) -> None:
        self.parsed.clear()
        self.normalised.clear()


async def poll_once(settings: Any, storage: Storage) -> Any:
    """One poll by a brand-new poller and client: what a restarted daemon does first."""
    async with daemon.build_http_client(settings) as client:
        (report,) = await daemon.build_poller(settings, storage, client).poll()
    return report


async def test_restarted_poller_skips_unchanged_items(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a restart only the new item is parsed and normalised; edits are still seen."""
    spy = Spy(monkeypatch)
    settings = parse_config(
        {"database": {"url": db_url}, "sources": [{"id": "s", "url": portal.url("/f.xml")}]}
    )
    storage = daemon.build_storage(settings)
    portal.put("/f.xml", feed(("1", "Tin một"), ("2", "Tin hai")))
    assert (await poll_once(settings, storage)).new == 2
    assert storage.poll_memories(["s"])  # remembered in the database

    spy.reset()
    portal.put("/f.xml", feed(("3", "Tin ba"), ("1", "Tin một"), ("2", "Tin hai")))
    report = await poll_once(settings, storage)
    assert (report.new, report.changed, report.errors) == (1, 0, [])
    assert spy.parsed == [1]  # the header, item 3 and the footer only
    assert spy.normalised == ["3"]

    spy.reset()  # an edited item differs byte for byte: parsed, and seen as changed
    portal.put("/f.xml", feed(("3", "Tin ba"), ("1", "Tin một (đã sửa)"), ("2", "Tin hai")))
    report = await poll_once(settings, storage)
    assert (report.new, report.changed) == (0, 1)
    assert spy.parsed == [1]
    assert spy.normalised == ["1"]
    titles = sorted(a.title for a in storage.list_articles())
    assert titles == ["Tin ba", "Tin hai", "Tin một (đã sửa)"]
    assert storage.verify_audit().ok
    storage.close()


async def test_stale_or_broken_memory_means_a_whole_parse(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer's change, or an unreadable memory, makes the next document parse whole."""
    spy = Spy(monkeypatch)
    settings = parse_config(
        {"database": {"url": db_url}, "sources": [{"id": "s", "url": portal.url("/f.xml")}]}
    )
    storage = daemon.build_storage(settings)
    portal.put("/f.xml", feed(("1", "Tin một"), ("2", "Tin hai")))
    await poll_once(settings, storage)
    # Another daemon stores a different version of item 2 for the same source id.
    other = parse_config(
        {"database": {"url": db_url}, "sources": [{"id": "s", "url": portal.url("/g.xml")}]}
    )
    portal.put("/g.xml", feed(("2", "Tin hai (bản khác)")))
    assert (await poll_once(other, storage)).changed == 1
    # The other writer's poll also rewrote the memory (for /g.xml): put ours back, stale.
    spy.reset()
    portal.put("/f.xml", feed(("3", "Tin ba"), ("1", "Tin một"), ("2", "Tin hai")))
    report = await poll_once(settings, storage)
    assert (report.new, report.changed) == (1, 1)  # item 2 is seen as changed back
    assert spy.parsed == [3]

    # An unreadable memory is ignored, never trusted.
    with storage.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE source_memory SET memory = 'not json'")
    spy.reset()
    portal.put(
        "/f.xml", feed(("4", "Tin bốn"), ("3", "Tin ba"), ("1", "Tin một"), ("2", "Tin hai"))
    )
    report = await poll_once(settings, storage)
    assert (report.new, report.changed, report.errors) == (1, 0, [])
    assert spy.parsed == [4]
    assert sorted(spy.normalised) == ["1", "2", "3", "4"]
    storage.close()


async def test_a_source_with_nothing_stored_is_not_read_back(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poller learns at its start which sources have a stored memory: the first poll of new
    sources reads none back (a first poll of 2,000 feeds read 2,000 empty rows, issue 11),
    a restarted one reads those it has, once each."""
    Spy(monkeypatch)  # prepared in this process, as the other tests here
    settings = parse_config(
        {
            "database": {"url": db_url},
            "sources": [
                {"id": "a", "url": portal.url("/a.xml")},
                {"id": "b", "url": portal.url("/b.xml")},
            ],
        }
    )
    storage = daemon.build_storage(settings)
    reads: list[str] = []
    real = storage.poll_memory_of

    def counted(source_id: str) -> Any:
        reads.append(source_id)
        return real(source_id)

    monkeypatch.setattr(storage, "poll_memory_of", counted)
    portal.put("/a.xml", feed(("1", "Tin một")))
    portal.put("/b.xml", feed(("2", "Tin hai")))
    async with daemon.build_http_client(settings) as client:
        reports = await daemon.build_poller(settings, storage, client).poll()
    assert sorted(r.new for r in reports) == [1, 1]
    assert reads == []  # nothing was stored: nothing read
    assert storage.remembered_sources() == {"a", "b"}

    portal.put("/a.xml", feed(("3", "Tin ba"), ("1", "Tin một")))
    portal.put("/b.xml", feed(("4", "Tin bốn"), ("2", "Tin hai")))
    async with daemon.build_http_client(settings) as client:
        reports = await daemon.build_poller(settings, storage, client).poll()
    assert sorted(r.new for r in reports) == [1, 1]
    assert sorted(reads) == ["a", "b"]  # a restart reads what was stored, once each
    storage.close()


async def test_a_memory_written_after_the_start_is_still_safe(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a poller learned at its start can be stale (another instance polled the source
    since): its first document is then parsed whole, as a new source's, and nothing is lost
    or stored twice."""
    spy = Spy(monkeypatch)
    settings = parse_config(
        {"database": {"url": db_url}, "sources": [{"id": "s", "url": portal.url("/f.xml")}]}
    )
    storage = daemon.build_storage(settings)
    async with daemon.build_http_client(settings) as client:
        late = daemon.build_poller(settings, storage, client)
        await aio_call(late.memory.learn_stored, ["s"])  # learned: nothing stored yet
        portal.put("/f.xml", feed(("1", "Tin một"), ("2", "Tin hai")))
        assert (await poll_once(settings, storage)).new == 2  # another instance's poll
        spy.reset()
        portal.put("/f.xml", feed(("3", "Tin ba"), ("1", "Tin một"), ("2", "Tin hai")))
        (report,) = await late.poll()
    assert (report.new, report.changed, report.errors) == (1, 0, [])
    assert spy.parsed == [3]  # whole, once
    assert sorted(a.title for a in storage.list_articles()) == ["Tin ba", "Tin hai", "Tin một"]
    assert storage.verify_audit().ok
    storage.close()
