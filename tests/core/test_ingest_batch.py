"""Changed feeds finishing together are stored in one transaction, each keeping its own
outcome (syndicator/ingest_batch.py, Storage.batch), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

import daemon
from syndicator import ingest_batch
from syndicator.config import parse_config
from syndicator.errors import StorageError
from syndicator.ingest_batch import IngestBatch
from syndicator.sandbox.portal import PortalServer
from syndicator.storage import Storage
from tests.core.test_incremental_poll import feed
from tests.storage.test_articles_store import make


def _settings(db_url: str, portal: PortalServer, n: int) -> Any:
    sources = [{"id": f"s{i}", "url": portal.url(f"/f{i}.xml")} for i in range(n)]
    return parse_config({"database": {"url": db_url}, "sources": sources})


def _count_batches(storage: Storage, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many storage.batch() transactions ran (appended to the returned list)."""
    opened: list[int] = []
    batch = storage.batch

    @contextmanager
    def counted() -> Any:
        opened.append(1)
        with batch():
            yield

    monkeypatch.setattr(storage, "batch", counted)
    monkeypatch.setattr(ingest_batch, "WAIT_S", 1.0)  # a slow machine still gathers them
    return opened


async def test_polls_finishing_together_share_one_transaction(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(db_url, portal, 5)
    for i in range(5):
        portal.put(f"/f{i}.xml", feed((f"{i}a", f"Tin {i}"), (f"{i}b", f"Tin {i} hai")))
    storage = daemon.build_storage(settings)
    opened = _count_batches(storage, monkeypatch)
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client)
        reports = await poller.poll()
        await poller.close()
    assert sorted((r.source_id, r.new, r.failed) for r in reports) == [
        (f"s{i}", 2, False) for i in range(5)
    ]
    assert len(opened) == 1  # together, not one transaction each
    assert len(storage.list_articles()) == 10
    assert storage.verify_audit().ok
    storage.close()


async def test_a_failing_ingest_is_rolled_back_alone(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failing source's poll is recorded as failed and stores nothing; the others of its
    batch are stored; its next poll stores it."""
    settings = _settings(db_url, portal, 3)
    for i in range(3):
        portal.put(f"/f{i}.xml", feed((f"{i}a", f"Tin {i}")))
    storage = daemon.build_storage(settings)
    audit = storage._audit_many

    def failing(conn: Any, events: Any, now: datetime) -> Any:
        if any(data and data.get("source") == "s1" for _, _, _, data in events):
            raise StorageError("disk I/O error (injected)")  # after s1's articles were inserted
        return audit(conn, events, now)

    monkeypatch.setattr(storage, "_audit_many", failing)
    opened = _count_batches(storage, monkeypatch)
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client)
        reports = {r.source_id: r for r in await poller.poll()}
        assert len(opened) == 1
        assert reports["s1"].failed and reports["s1"].new == 0
        assert "ingest failed: StorageError" in reports["s1"].errors[0]
        assert (reports["s0"].new, reports["s2"].new) == (1, 1)
        assert sorted(a.source_id for a in storage.list_articles()) == ["s0", "s2"]
        monkeypatch.setattr(storage, "_audit_many", audit)
        (again,) = await poller.poll(["s1"])
        assert again.new == 1 and not again.failed
        await poller.close()
    assert storage.verify_audit().ok
    storage.close()


async def test_a_failed_commit_fails_every_poll_of_the_batch(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing of the batch is stored; every poll in it says so and none claims new articles."""
    settings = _settings(db_url, portal, 3)
    for i in range(3):
        portal.put(f"/f{i}.xml", feed((f"{i}a", f"Tin {i}")))
    storage = daemon.build_storage(settings)
    batch = storage.batch

    @contextmanager
    def refused() -> Any:
        with batch():
            yield
            raise StorageError("database write failed: database is locked (injected)")

    monkeypatch.setattr(storage, "batch", refused)
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client)
        reports = await poller.poll()
        await poller.close()
    assert all(r.failed and r.new == 0 and not r.new_ids for r in reports)
    assert storage.list_articles() == []
    storage.close()


async def test_a_call_cancelled_before_its_batch_runs_is_left_out(storage: Storage, now) -> None:
    """A poll cancelled while waiting (a stop, a reload) stores nothing; the others do."""
    batch = IngestBatch(storage, lambda article: storage.add_articles("portal", [article], now))
    kept = asyncio.ensure_future(batch.submit(make(1)))
    dropped = asyncio.ensure_future(batch.submit(make(2)))
    await asyncio.sleep(0)
    dropped.cancel()
    await batch.close()
    assert [a.guid for a in (await kept).new] == ["g1"]
    assert [a.guid for a in storage.list_articles()] == ["g1"]


def test_storage_batch_commits_together_and_rolls_back_one_write(storage: Storage, now) -> None:
    """Inside batch(), a savepoint that fails is rolled back alone (a failed statement too,
    which on PostgreSQL spoils a transaction), and nothing is visible to other connections
    before the batch commits."""
    with storage.batch():
        storage.add_articles("portal", [make(1)], now)
        with pytest.raises(StorageError), storage.savepoint(), storage._write_core() as conn:
            storage.add_articles("portal", [make(2)], now)
            conn.exec_driver_sql("SELECT no_such_column FROM articles")
        with storage.savepoint():
            storage.add_articles("portal", [make(3)], now)
            assert storage.source_stamp("portal")[0] == 2  # read in the batch: its own writes
        assert storage.list_articles() == []  # another connection sees nothing yet
    assert sorted(a.guid for a in storage.list_articles()) == ["g1", "g3"]
    assert storage.verify_audit().ok
