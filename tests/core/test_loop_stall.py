"""The loop-stall guard (issue 11, points 3 and 6): storage never holds the event loop.

Another connection holds the SQLite write lock (BEGIN IMMEDIATE, as a second process or a
long write would) for about three seconds. Meanwhile a running health server must answer
/healthz over its socket, and a publisher cycle that has to write (claim a post) must wait in
the storage thread, not on the loop: a ticker coroutine measures how late the loop runs. The
bounds are generous (a loaded 2-core machine): correctness guards, not benchmarks.
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import daemon
from syndicator.config import ServerSettings, parse_config
from syndicator.metrics import Metrics
from syndicator.sandbox import GraphServer
from syndicator.server import HealthServer
from syndicator.storage import Storage, aio, open_storage
from syndicator.types import PostStatus
from tests.publishing.conftest import PAGE, PAGE_TOKEN, article

LOCK_HELD_S = 3.0
BOUND_S = 1.0  # far below the lock time, far above a healthy loop's few milliseconds


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Storage]:
    """Migrated SQLite storage (the lock under test is SQLite's)."""
    storage = open_storage(sqlite_url)
    yield storage
    storage.close()


@pytest.fixture
async def graph() -> AsyncIterator[GraphServer]:
    """The Graph API stand-in on a free port."""
    server = GraphServer()
    await server.start()
    yield server
    await server.stop()


class WriteLock:
    """Holds the SQLite write lock from another connection, in a thread, until released."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.held = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            conn.execute("BEGIN IMMEDIATE")
            self.held.set()
            self.release.wait(LOCK_HELD_S * 3)  # a safety net: never hold it forever
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    async def __aenter__(self) -> WriteLock:
        self.thread.start()
        await asyncio.to_thread(self.held.wait, 10)
        assert self.held.is_set(), "could not take the write lock"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await asyncio.to_thread(self.thread.join, 10)


async def worst_lateness(duration: float, step: float = 0.05) -> float:
    """Sleep in small steps for `duration`; return the longest delay beyond a step."""
    worst = 0.0
    end = time.monotonic() + duration
    while time.monotonic() < end:
        before = time.monotonic()
        await asyncio.sleep(step)
        worst = max(worst, time.monotonic() - before - step)
    return worst


def _settings(graph: GraphServer, url: str) -> Any:
    facebook = {"kind": "facebook_page", "page_id": PAGE, "access_token": PAGE_TOKEN,
                "api_base": graph.base_url, "timeout": "2s"}  # fmt: skip
    return parse_config({
        "database": {"url": url},
        "sources": [{"id": "portal", "url": "https://portal.example.gov.vn/rss", "agency": "UBND tỉnh"}],
        "approval": {"mode": "manual"},
        "publishing": {"interval": "1s", "pause_between": "0s", "reconcile_delay": "0s"},
        "channels": {"facebook": facebook},
    })  # fmt: skip


async def test_healthz_and_publisher_keep_the_loop_free_while_sqlite_is_locked(
    store: Storage, sqlite_url: str, graph: GraphServer, tmp_path: Path
) -> None:
    """A held write lock delays neither /healthz nor the loop; the publisher's write waits."""
    settings = _settings(graph, sqlite_url)
    store.sync_sources([("portal", "https://portal.example.gov.vn/rss")], datetime.now(UTC))
    store.add_articles("portal", [article(1)], datetime.now(UTC))
    now = datetime.now(UTC)
    server = HealthServer(
        ServerSettings(listen="127.0.0.1:0", max_poll_age=timedelta(minutes=30)),
        store, Metrics(store, channels=["facebook"]), last_poll=lambda: now,
    )  # fmt: skip
    url = await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(f"{url}/healthz")).status_code == 200  # first snapshot
            channels = daemon.build_channels(settings, store, client)
            publisher = daemon.build_publisher(settings, store, channels)
            await publisher.run_once()  # plans the post (pending: approval is manual)
            [post] = store.list_posts()
            store.decide([post.id], PostStatus.APPROVED, actor="test", now=datetime.now(UTC))
            async with WriteLock(tmp_path / "syndicator.db"):
                cycle = asyncio.create_task(publisher.run_once())
                ticker = asyncio.create_task(worst_lateness(LOCK_HELD_S - 0.5))
                started = time.monotonic()
                health = await client.get(f"{url}/healthz")
                answered_in = time.monotonic() - started
                lateness = await ticker
                # The cycle had to claim the post (a write): it cannot have finished yet.
                assert not cycle.done()
            await asyncio.wait_for(cycle, 30)
    finally:
        await server.stop()
    assert answered_in < BOUND_S, f"/healthz took {answered_in:.2f} s under a held lock"
    assert health.status_code == 200 and health.json()["checks"]["database"]["ok"] is True
    assert lateness < BOUND_S, f"the loop stalled {lateness:.2f} s under a held lock"
    record = store.get_post(post.id)
    assert record is not None and record.status == PostStatus.PUBLISHED  # it went out after all
    assert len(graph.live_posts()) == 1


async def test_healthz_says_so_when_the_database_stops_answering(
    store: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot that cannot be refreshed ages, and past DB_TIMEOUT_S /healthz fails on it."""
    import syndicator.server as server_module

    monkeypatch.setattr(server_module, "DB_TIMEOUT_S", 0.3)
    stuck = threading.Event()
    server = HealthServer(
        ServerSettings(listen="127.0.0.1:0", max_poll_age=timedelta(minutes=30)),
        store, Metrics(store), last_poll=lambda: datetime.now(UTC),
    )  # fmt: skip
    url = await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(f"{url}/healthz")).status_code == 200
            # A hung read (the snapshot reads channel states first; it never pings).
            monkeypatch.setattr(store, "channel_statuses", lambda: stuck.wait(5) and {})
            body: dict[str, Any] = {}
            for _ in range(100):  # until the snapshot is older than the (shortened) timeout
                response = await client.get(f"{url}/healthz")
                body = response.json()
                if response.status_code == 503:
                    break
                await asyncio.sleep(0.05)
    finally:
        stuck.set()
        await server.stop()
    assert body["problems"] == ["database"]
    assert "no answer from the database" in body["checks"]["database"]["error"]


async def test_the_first_snapshot_is_taken_before_serving(
    store: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """start() returns once the first snapshot is read, so no /healthz waits for it; a
    database that does not answer delays the start by DB_TIMEOUT_S at most, then says so."""
    import syndicator.server as server_module

    def build() -> HealthServer:
        return HealthServer(
            ServerSettings(listen="127.0.0.1:0", max_poll_age=timedelta(minutes=30)),
            store, Metrics(store), last_poll=lambda: datetime.now(UTC),
        )  # fmt: skip

    server = build()
    await server.start()
    try:
        assert server._snapshot is not None
        assert server._route_now("/healthz") is not None  # answered at once, no wait
    finally:
        await server.stop()

    monkeypatch.setattr(server_module, "DB_TIMEOUT_S", 0.3)
    stuck = threading.Event()
    monkeypatch.setattr(store, "channel_statuses", lambda: stuck.wait(5) and {})  # hung
    server = build()
    started = time.monotonic()
    url = await server.start()
    took = time.monotonic() - started
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(f"{url}/healthz")
    finally:
        stuck.set()
        await server.stop()
    assert 0.3 <= took < 3.0
    assert response.status_code == 503
    assert response.json()["problems"] == ["database"]


async def test_storage_calls_run_in_order_on_one_thread() -> None:
    """aio.call runs each call on the one storage thread, in the order they were awaited."""
    seen: list[tuple[int, str]] = []

    def record(i: int) -> str:
        time.sleep(0.01 if i % 2 else 0)  # uneven work must not reorder them
        seen.append((i, threading.current_thread().name))
        return f"r{i}"

    answers = await asyncio.gather(*(aio.call(record, i) for i in range(20)))
    assert answers == [f"r{i}" for i in range(20)]
    assert [i for i, _ in seen] == list(range(20))
    assert {name for _, name in seen} == {f"{aio.WRITER_NAME}_0"}
    assert threading.current_thread().name not in {name for _, name in seen}


async def test_storage_call_errors_context_and_nesting() -> None:
    """Errors reach the caller unchanged, context variables travel, a nested call runs inline."""
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("bound")

    def fails() -> None:
        raise ValueError("no such post")

    with pytest.raises(ValueError, match="no such post"):
        await aio.call(fails)
    assert await aio.call(var.get) == "bound"

    def nested() -> str:
        # On the storage thread already: a nested call must not wait for itself.
        return asyncio.run(aio.call(threading.current_thread().name.__str__))

    assert await asyncio.wait_for(aio.call(nested), 10) == f"{aio.WRITER_NAME}_0"
    assert aio.writer_busy_for() == 0.0  # idle again


async def test_a_call_cancelled_before_it_starts_never_runs() -> None:
    """A caller that gives up while its call waits in the queue: the call is not run (as
    run_in_executor did); one already running runs to its end, its answer dropped."""
    release, ran = threading.Event(), []

    def first() -> None:
        release.wait(10)
        ran.append("first")

    running = asyncio.ensure_future(aio.call(first))
    queued = asyncio.ensure_future(aio.call(ran.append, "second"))
    await asyncio.sleep(0.05)
    running.cancel()
    queued.cancel()
    release.set()
    assert await aio.call(ran.append, "third") is None  # after both, in order
    assert ran == ["first", "third"]
