"""A running poller keeps no per-source memory objects in RAM once it is stored (issue 11, peak
RSS), and still parses only the changed items of the next document: it reads the memory back,
or after its first wave takes back the compressed copy it kept."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import daemon
from syndicator import poll_memory
from syndicator.config import parse_config
from syndicator.poll_memory import SourceMemory
from syndicator.sandbox.portal import PortalServer
from tests.core.test_incremental_poll import another_daemon_edits_item_2, feed
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


def _one_source(portal: PortalServer, db_url: str) -> tuple[Any, Any]:
    """Source "s" at /f.xml, due every minute, and its storage."""
    settings = parse_config(
        {
            "database": {"url": db_url},
            "sources": [{"id": "s", "url": portal.url("/f.xml"), "interval": "1m"}],
        }
    )
    return settings, daemon.build_storage(settings)


async def _poll_due_until(poller: Any, source: str) -> Any:
    while True:
        for report in await poller.poll_due():
            if report.source_id == source:
                return report
        await asyncio.sleep(0.02)


async def test_a_released_memory_is_held_compressed(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the first wave is over, the stored memories are read once, in bulk, and held as
    compressed text, as is each memory released after: a change takes it back without
    reading the database, with the same outcome as a read (an edit is still a change)."""
    spy = Spy(monkeypatch)
    settings, storage = _one_source(portal, db_url)
    clock = [datetime(2026, 12, 2, 8, 0, tzinfo=UTC)]
    reads: list[str] = []
    read, bulk = storage.poll_memory_of, storage.poll_memory_rows
    monkeypatch.setattr(storage, "poll_memory_of", lambda sid: reads.append(sid) or read(sid))
    monkeypatch.setattr(
        storage, "poll_memory_rows", lambda ids: reads.append(f"bulk {ids}") or bulk(ids)
    )
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client, clock=lambda: clock[0])
        poller.sync()
        portal.put("/f.xml", feed(("1", "Tin một"), ("2", "Tin hai")))
        assert (await _poll_due_until(poller, "s")).new == 2
        # Nothing stored before this poller started: no memory looked for (learn_stored);
        # the first wave over (its one source polled), what it stored is read in bulk and
        # held. None is held during the wave (a first poll's peak RSS: release).
        assert reads == ["bulk ['s']"]
        assert (poller.memory._items, poller.memory._seen) == ({}, {})
        assert set(poller.memory._held) == {"s"}
        clock[0] += timedelta(minutes=2)
        portal.put("/f.xml", feed(("0", "Tin không"), ("1", "Tin một"), ("2", "Tin hai")))
        assert (await _poll_due_until(poller, "s")).new == 1
        assert set(poller.memory._held) == {"s"}  # released again, held again

        for edit in range(2):
            spy.reset()
            clock[0] += timedelta(minutes=2)
            portal.put(
                "/f.xml",
                feed(("3", "Tin ba"), ("1", f"Tin một (sửa {edit})"), ("2", "Tin hai")),
            )
            report = await _poll_due_until(poller, "s")
            assert (report.new, report.changed, report.errors) == (1 - edit, 1, [])
            assert reads == ["bulk ['s']"]  # taken back from what was held, not read
            assert spy.parsed == [2 - edit]  # the new and the edited items only
        await poller.close()
    storage.close()


async def test_a_poll_ending_during_the_hand_off_is_held(
    portal: PortalServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first wave's last poll ends while a tick is on the storage thread, so its outcome
    (its memory) is queued after that tick took the queue: it is stored before the memories
    are read to be held, and that source is held (CI once found it missing)."""
    settings, storage = _one_source(portal, sqlite_url)
    clock = [datetime(2026, 12, 2, 8, 0, tzinfo=UTC)]
    loop = asyncio.get_running_loop()
    gate, at_gate, ended = asyncio.Event(), asyncio.Event(), threading.Event()
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client, clock=lambda: clock[0])
        record = poller.records.record

        async def gated_record(*args: Any, **kwargs: Any) -> None:
            at_gate.set()  # the poll stored its articles; its outcome waits here
            await gate.wait()
            await record(*args, **kwargs)

        monkeypatch.setattr(poller.records, "record", gated_record)
        poller.sync()
        portal.put("/f.xml", feed(("1", "Tin một"), ("2", "Tin hai")))
        assert (await poller.poll_due()) == []  # claimed and started
        (task,) = poller._running.values()
        task.add_done_callback(lambda _: ended.set())
        await asyncio.wait_for(at_gate.wait(), 10)
        due = storage.due_sources

        def slow_due(now: datetime, among: Any) -> Any:
            # On the storage thread, the queue already taken: the poll queues its outcome and
            # ends meanwhile, on the loop.
            loop.call_soon_threadsafe(gate.set)
            assert ended.wait(10)
            return due(now, among=among)

        monkeypatch.setattr(storage, "due_sources", slow_due)
        (report,) = await poller.poll_due()
        assert report.new == 2
        assert set(poller.memory._held) == {"s"}
        await poller.close()
    storage.close()


async def test_a_held_memory_with_a_stale_stamp_is_not_trusted(
    portal: PortalServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another daemon stored this source's articles since the memory was held: the document
    trimmed against it is not stored; the stamp, checked before storing, sends it to a whole
    parse, and the other daemon's version of item 2 is seen as changed back."""
    spy = Spy(monkeypatch)
    settings, storage = _one_source(portal, sqlite_url)
    clock = [datetime(2026, 12, 2, 8, 0, tzinfo=UTC)]
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client, clock=lambda: clock[0])
        poller.sync()
        for n, items in enumerate(
            [
                (("1", "Tin một"), ("2", "Tin hai")),
                (("3", "Tin ba"), ("1", "Tin một"), ("2", "Tin hai")),
            ]
        ):
            clock[0] += timedelta(minutes=2 * n)
            portal.put("/f.xml", feed(*items))
            await _poll_due_until(poller, "s")
        assert set(poller.memory._held) == {"s"}
        assert (await another_daemon_edits_item_2(portal, sqlite_url, storage)).changed == 1
        spy.reset()
        clock[0] = datetime.now(UTC) + timedelta(hours=1)  # after the other's next check too
        portal.put(
            "/f.xml", feed(("4", "Tin bốn"), ("3", "Tin ba"), ("1", "Tin một"), ("2", "Tin hai"))
        )
        report = await _poll_due_until(poller, "s")
        assert (report.new, report.changed, report.errors) == (1, 1, [])
        assert spy.parsed == [1, 4]  # trimmed to item 4, then whole: the stamp was another's
        await poller.close()
    titles = sorted(a.title for a in storage.list_articles())
    assert titles == ["Tin ba", "Tin bốn", "Tin hai", "Tin một"]
    assert storage.verify_audit().ok
    storage.close()


def test_held_memories_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past HELD_BYTES the oldest held memories go (their next change reads the database);
    forgetting a source (a failed ingest) drops what was held of it."""
    memory = SourceMemory(storage=None)  # type: ignore[arg-type]
    text = json.dumps([random.Random(n).randbytes(600).hex() for n in range(4)])
    size = len(poll_memory._packed(text, ""))
    monkeypatch.setattr(poll_memory, "HELD_BYTES", size * 3)
    for sid in "abcd":
        memory.release(sid, (text, ""))
    assert list(memory._held) == ["b", "c", "d"]
    assert memory._held_bytes == size * 3
    memory.forget("c")
    assert list(memory._held) == ["b", "d"] and memory._held_bytes == size * 2
    memory.release("e", ("", ""))  # nothing to hold
    assert list(memory._held) == ["b", "d"]


def test_stored_memories_held_after_the_first_wave_yield_to_newer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """hold_stored never replaces what is newer (a memory released since the read, or one a
    poll in flight took back) and stops at HELD_BYTES rather than drop the newer ones."""
    memory = SourceMemory(storage=None)  # type: ignore[arg-type]
    text = json.dumps([random.Random(n).randbytes(600).hex() for n in range(4)])
    size = len(poll_memory._packed(text, ""))
    monkeypatch.setattr(poll_memory, "HELD_BYTES", size * 3)
    memory.release("a", (text, ""))  # released after the bulk read: newer
    newer = memory._held["a"]
    memory._items["b"] = (("u", "agency"), (1, None), set())  # a poll in flight restored it
    packed = {sid: poll_memory._packed(text, "") for sid in "abcde"}
    assert memory.hold_stored(packed) == 2  # c and d; e does not fit
    assert list(memory._held) == ["a", "c", "d"] and memory._held["a"] is newer
