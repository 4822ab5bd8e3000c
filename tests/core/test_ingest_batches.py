"""The changed feeds of one moment are stored in one write transaction, and one bad feed never
costs the others (poll_ingest.py: _ingest_soon, _ingest_many; issue 11)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

import daemon
from syndicator import poll_ingest
from syndicator.config import parse_config
from syndicator.errors import StorageError
from syndicator.sandbox.portal import PortalServer
from tests.core.test_incremental_poll import feed

SOURCES = ["a", "b", "c", "d"]


def settings_for(portal: PortalServer, db_url: str) -> Any:
    return parse_config(
        {
            "database": {"url": db_url},
            "sources": [{"id": s, "url": portal.url(f"/{s}.xml")} for s in SOURCES],
        }
    )


def publish(portal: PortalServer, items: int) -> None:
    """Every source's feed with its first `items` items (1 or 2), the newest first."""
    for s in SOURCES:
        entries = [(f"{s}2", f"Tin {s} hai"), (f"{s}1", f"Tin {s} một")]
        portal.put(f"/{s}.xml", feed(*entries[2 - items :]))


def count_write_transactions(storage: Any) -> list[int]:
    """Commits of the writer engine (one per write transaction)."""
    commits = [0]

    @event.listens_for(storage.engine, "commit")
    def _commit(_conn: Any) -> None:
        commits[0] += 1

    return commits


async def test_changed_feeds_polled_together_are_stored_in_one_transaction(
    portal: PortalServer, db_url: str
) -> None:
    """Four sources change at once: their new items are stored by one write transaction,
    each report says what it stored, and the audit chain holds."""
    publish(portal, 1)
    settings = settings_for(portal, db_url)
    storage = daemon.build_storage(settings)
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client)
        await poller.poll()
        publish(portal, 2)
        commits = count_write_transactions(storage)
        reports = await poller.poll()
        await poller.close()
    assert sorted((r.source_id, r.new, r.errors) for r in reports) == [(s, 1, []) for s in SOURCES]
    # The four ingests in one; poll() also writes its records (one flush).
    assert commits[0] == 2, commits
    assert len(storage.list_articles()) == 8
    assert storage.verify_audit().ok
    storage.close()


async def test_one_feed_that_fails_to_store_costs_the_others_nothing(
    portal: PortalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared transaction is rolled back when one feed's store raises; each feed is then
    stored in its own: the others are stored and reported once (no doubled warnings), the bad
    one is a failed poll with its error, and its next poll stores it."""
    publish(portal, 1)
    settings = settings_for(portal, db_url)
    storage = daemon.build_storage(settings)
    real = storage.add_articles
    broken = {"c"}

    def add_articles(source_id: str, *args: Any, **kwargs: Any) -> Any:
        if source_id in broken:
            raise StorageError("database write failed: disk I/O error")
        return real(source_id, *args, **kwargs)

    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client)
        await poller.poll()
        publish(portal, 2)
        monkeypatch.setattr(storage, "add_articles", add_articles)
        # "b" has an entry that does not normalise: a line in its report, the rest stored.
        prepare = poll_ingest.prepare_entries

        def prepare_entries(entries: Any, **kwargs: Any) -> Any:
            articles, errors = prepare(entries, **kwargs)
            if kwargs["source_id"] == "b":
                errors = [*errors, (0, "entry x: ValueError: no title")]
            return articles, errors

        monkeypatch.setattr(poll_ingest, "prepare_entries", prepare_entries)
        reports = {r.source_id: r for r in await poller.poll()}
        assert [s for s in SOURCES if reports[s].failed] == ["c"]
        assert reports["c"].errors == [
            "ingest failed: StorageError: database write failed: disk I/O error"
        ]
        assert [reports[s].new for s in SOURCES] == [1, 1, 0, 1]
        assert reports["b"].errors == ["entry x: ValueError: no title"]  # once, not per try
        assert sorted(a.guid.rsplit("/", 1)[-1] for a in storage.list_articles()) == sorted(
            [f"{s}1" for s in SOURCES] + ["a2", "b2", "d2"]
        )
        broken.clear()
        (again,) = await poller.poll(["c"])
        assert (again.new, again.failed) == (1, False)
        await poller.close()
    assert storage.verify_audit().ok
    storage.close()


async def test_a_session_write_inside_a_shared_transaction_is_refused(storage: Any, now) -> None:
    """writing() is for Core writes: a Session write inside would wait for the very lock its
    thread holds (30 s on SQLite), so it raises at once and nothing is committed."""
    storage.sync_sources([("a", "https://a")], now)
    with pytest.raises(RuntimeError, match="Core writes only"), storage.writing():
        storage.add_articles("a", [], now)
        storage.set_value("k", "v", now)
    assert storage.get_value("k") is None


async def test_a_poll_waiting_for_its_batch_never_waits_forever(
    portal: PortalServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the task storing the batches ends (the loop stopping), the polls waiting in it end
    too: cancelled, and nothing is left queued."""
    import asyncio

    monkeypatch.setattr(poll_ingest, "INGEST_LINGER_S", 30.0)
    settings = settings_for(portal, sqlite_url)
    storage = daemon.build_storage(settings)
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client)
        job: Any = (None, None, None, None, None, None)
        waiting = asyncio.create_task(poller._ingest_soon(job))
        await asyncio.sleep(0.05)
        assert poller._ingest_drainer is not None
        poller._ingest_drainer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert poller._ingest_queue == [] and poller._ingest_drainer is None
        await poller.close()
    storage.close()


async def test_a_restarts_changed_feeds_are_stored_together(
    portal: PortalServer, db_url: str
) -> None:
    """A restarted daemon's first wave: its changed feeds are trimmed against the memory kept
    across restarts (a few items each) and stored in one transaction, as in the steady state;
    a new daemon's first wave (whole documents, nothing remembered) stores each on its own."""
    publish(portal, 1)
    settings = settings_for(portal, db_url)
    storage = daemon.build_storage(settings)
    async with daemon.build_http_client(settings) as client:
        first = daemon.build_poller(settings, storage, client)
        commits = count_write_transactions(storage)
        await first.poll()
        assert commits[0] == len(SOURCES) + 1  # one each, then the records
        await first.close()
        publish(portal, 2)
        restarted = daemon.build_poller(settings, storage, client)  # its memory: the stored one
        assert not restarted.polled_all
        commits[0] = 0
        reports = await restarted.poll()
        await restarted.close()
    assert sorted((r.source_id, r.new, r.errors) for r in reports) == [(s, 1, []) for s in SOURCES]
    assert commits[0] == 2, commits  # the four ingests in one, then the records
    assert len(storage.list_articles()) == 8 and storage.verify_audit().ok
    storage.close()
