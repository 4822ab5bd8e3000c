"""Whole documents prepared in a worker process give exactly what the daemon's own process
gives, and a worker that dies or cannot start loses nothing (syndicator/parse_workers.py)."""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import daemon
from syndicator.config import parse_config
from syndicator.parse_workers import ParseWorkers
from syndicator.poller import Poller
from syndicator.sandbox.portal import PortalServer
from syndicator.sources.classify import ClassifierRules
from syndicator.sources.document import parse_document
from syndicator.sources.prepare import prepare_document, prepare_entries
from syndicator.storage import Storage
from syndicator.storage.models import ArticleRow

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
NOW = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
# A config's own rules (merged over the defaults): they must reach the worker intact.
CLASSIFICATION = {"keywords": {"dau_thau_mua_sam": ["gói thầu", "mời thầu", "Kế hoạch"]}}


def _rows(storage: Storage) -> list[tuple[Any, ...]]:
    columns = [c for c in ArticleRow.__table__.c if c.name not in ("id", "duplicate_of")]
    with storage.engine.connect() as conn:
        rows = conn.execute(select(*columns).order_by(ArticleRow.guid)).all()
    skip = {"first_seen_at", "updated_at"}  # when this test stored them
    keep = [i for i, c in enumerate(columns) if c.name not in skip]
    return [tuple(row[i] for i in keep) for row in rows]


@contextlib.asynccontextmanager
async def _poller(
    url: str, feeds: dict[str, str], *, processes: int = 1, start_at: int | None = 1, **more: Any
) -> AsyncIterator[tuple[Poller, Storage]]:
    """A daemon's poller over `feeds` (source id -> URL) with `processes` parse workers;
    `start_at`: polls in progress before a worker starts (None: the daemon's own rule)."""
    settings = parse_config(
        {
            "database": {"url": url},
            "sources": [{"id": sid, "url": feed} for sid, feed in feeds.items()],
            "poll": {"parse_processes": processes},
            **more,
        }
    )
    storage = daemon.build_storage(settings)
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client)
        if start_at is not None:
            poller.workers.start_at = start_at
        try:
            yield poller, storage
        finally:
            await poller.close()


def test_rules_survive_the_trip_to_a_worker() -> None:
    rules = ClassifierRules.from_mapping(CLASSIFICATION)
    assert pickle.loads(pickle.dumps(rules)) == rules


@pytest.mark.parametrize("name", sorted(p.name for p in FEEDS.glob("*.xml")))
def test_prepared_in_a_worker_is_prepared_here(name: str) -> None:
    """The worker's function gives what the inline path gives, entry for entry, on every
    fixture feed (broken ones included), with the rules it was started with."""
    rules = ClassifierRules.from_mapping(CLASSIFICATION)
    body, url = (FEEDS / name).read_bytes(), "https://portal.example.gov.vn/rss"
    headers = {"content-type": "application/rss+xml"}
    parsed = parse_document("rss", body, headers, url)
    here = prepare_entries(
        parsed.entries, source_id="s", agency="Sở X", feed_url=url, now=NOW, rules=rules
    )
    prepared = prepare_document(
        "rss", body, headers, url, None, source_id="s", agency="Sở X", now=NOW, rules=rules
    )
    prepared = pickle.loads(pickle.dumps(prepared))  # as it comes back from a worker
    assert (prepared.error, prepared.count) == (parsed.error, len(parsed.entries))
    assert list(prepared.articles) == here[0]
    assert list(prepared.errors) == here[1]


async def test_a_first_poll_through_the_worker_stores_what_the_daemon_would(
    portal: PortalServer, tmp_path: Path
) -> None:
    """Two databases, one polled with a worker process and one without: the same rows."""
    for name in ("vnexpress_tin-moi-nhat_2017-11-14.xml", "gov_feed_windows-1258.xml"):
        portal.put(f"/{name}", (FEEDS / name).read_bytes(), content_type="application/rss+xml")
    names = ("vnexpress_tin-moi-nhat_2017-11-14.xml", "gov_feed_windows-1258.xml")
    feeds = {f"s{i}": portal.url(f"/{name}") for i, name in enumerate(names)}
    stored = []
    for processes in (1, 0):
        url = f"sqlite:///{tmp_path}/w{processes}.db"
        # Two feeds: not the many a worker is started for, hence start_at=1.
        async with _poller(url, feeds, processes=processes, classification=CLASSIFICATION) as (
            poller,
            storage,
        ):
            reports = await poller.poll()
            assert bool(poller.workers.pids()) == (processes == 1)  # the worker did the work
        assert poller.workers.pids() == []  # and stopped with the poller
        assert all(r.new > 0 for r in reports), reports
        stored.append(_rows(storage))
    assert stored[0] == stored[1]


async def test_a_killed_worker_loses_nothing(portal: PortalServer, sqlite_url: str) -> None:
    """The worker is killed (the OOM killer, an operator): the next document is prepared in
    the daemon, stored all the same, and the one after starts a new worker."""
    from tests.core.test_incremental_poll import feed

    portal.put("/f.xml", feed(("1", "Tin một"), ("2", "Tin hai")))
    async with _poller(sqlite_url, {"s": portal.url("/f.xml")}) as (poller, storage):
        assert (await poller.poll())[0].new == 2
        (pid,) = poller.workers.pids()
        os.kill(pid, signal.SIGKILL)
        poller.memory.forget("s")  # nothing remembered: the next document is parsed whole
        portal.put("/f.xml", feed(("3", "Tin ba"), ("1", "Tin một"), ("2", "Tin hai")))
        (report,) = await poller.poll()
        assert (report.new, report.errors) == (1, [])
        assert poller.workers.deaths in (0, 1)  # 0 if the pool saw the death only later
        poller.memory.forget("s")
        portal.put("/f.xml", feed(("4", "Tin bốn"), ("3", "Tin ba"), ("1", "Tin một")))
        (report,) = await poller.poll()
        assert (report.new, report.errors) == (1, [])
        assert poller.workers.enabled and poller.workers.pids()
    assert storage.count_articles() == 4


def _die() -> None:
    os._exit(3)


async def test_worker_deaths_then_the_daemon_prepares_alone() -> None:
    """Each death is reported and a new pool starts; after three, no more workers."""
    workers = ParseWorkers(1, ClassifierRules.defaults())
    try:
        assert await workers.run(functools.partial(sum, [1, 2])) == 3
        for deaths in (1, 2, 3):
            assert await workers.run(_die) is None
            assert workers.deaths == deaths
        assert not workers.enabled
        assert await workers.run(functools.partial(sum, [1, 2])) is None  # caller does it
    finally:
        workers.close()


async def test_no_worker_can_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine where no process can be started: one error, then the daemon prepares alone."""
    workers = ParseWorkers(1, ClassifierRules.defaults())

    class NoProcesses:
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            raise OSError(11, "Resource temporarily unavailable")

        def shutdown(self, *args: Any, **kwargs: Any) -> None:
            pass

    monkeypatch.setattr(workers, "_start", NoProcesses)
    assert await workers.run(functools.partial(sum, [1])) is None
    assert not workers.enabled


async def test_an_error_of_the_work_itself_reaches_the_caller() -> None:
    """Only a dead worker is the pool's business: the work's own exception is raised as if
    it had run in the daemon (the poller records it for that source only)."""
    workers = ParseWorkers(1, ClassifierRules.defaults())
    try:
        with pytest.raises(ZeroDivisionError):
            await workers.run(functools.partial(divmod, 1, 0))
        assert workers.enabled and workers.deaths == 0
    finally:
        workers.close()


async def test_a_worker_does_not_run_the_console_script_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started from the `syndicator` console script (deploy/syndicator.service), whose main
    module has a file and no spec, a worker must not import it again (the whole CLI, ~70 MB);
    multiprocessing would, unless told otherwise (parse_workers._main_not_imported)."""
    import types

    marker = tmp_path / "imported"
    script = tmp_path / "syndicator-script.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(script)
    fake.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", fake)
    workers = ParseWorkers(1, ClassifierRules.defaults())
    try:
        assert await workers.run(functools.partial(sum, [2, 3])) == 5
    finally:
        workers.close()
    assert not marker.exists()
    assert fake.__spec__ is None  # put back once the worker started


async def test_a_few_feeds_never_start_a_worker_and_an_idle_one_stops(
    portal: PortalServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handful of polls is prepared in the daemon (a worker costs ~43 MB); a started worker
    is stopped once idle (parse_workers.IDLE_STOP_S), and its memory goes back."""
    from tests.core.test_incremental_poll import feed

    portal.put("/f.xml", feed(("1", "Tin một"), ("2", "Tin hai")))
    portal.put("/g.xml", feed(("3", "Tin ba")))
    feeds = {"s": portal.url("/f.xml"), "t": portal.url("/g.xml")}
    async with _poller(sqlite_url, feeds, start_at=None) as (poller, _):
        assert (await poller.poll(["s"]))[0].new == 2
        assert poller.workers.pids() == []  # one feed: prepared here
        poller.workers.start_at = 1
        assert (await poller.poll(["t"]))[0].new == 1
        assert poller.workers.pids()
        monkeypatch.setattr("syndicator.parse_workers.IDLE_STOP_S", 0.0)
        await poller.poll_due()  # a daemon tick
        assert poller.workers.pids() == []


async def test_a_very_big_document_is_not_queued_to_the_worker(
    portal: PortalServer, sqlite_url: str
) -> None:
    """Over 1 MiB a document is parsed in a thread even while a worker runs: the one worker
    takes documents one at a time, and a slow one must not hold up those behind it."""
    body = "Nội dung rất dài. " * 70_000  # ~1.3 MB of UTF-8
    item = (
        "<item><title>Tin dài</title><link>https://so.gov.vn/tin/1</link><guid>1</guid>"
        f"<description>{body}</description></item>"
    )
    portal.put(
        "/big.xml",
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>S</title>'
        f"{item}</channel></rss>",
    )
    async with _poller(sqlite_url, {"s": portal.url("/big.xml")}) as (poller, _):
        (report,) = await poller.poll()
        assert report.new == 1 and poller.workers.pids() == []
