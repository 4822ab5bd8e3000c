"""The feeds' aiohttp engine belongs to whoever built it: the daemon closes it when it stops,
a reload keeps it (like the shared client), `poll --once` closes its own."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w

import daemon
from syndicator import runtime as runtime_module
from syndicator.cli import main as cli_main
from syndicator.config import parse_config
from syndicator.sandbox.portal import PortalServer
from syndicator.sources.feed_session import FeedSessions

RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>S</title>'
    "<item><title>Tin một</title><link>https://so.gov.vn/1</link><guid>1</guid></item>"
    "</channel></rss>"
)


def _config(tmp_path: Path, portal: PortalServer) -> dict[str, Any]:
    return {
        "database": {"url": f"sqlite:///{tmp_path}/s.db"},
        "sources": [{"id": "s", "url": portal.url("/f.rss"), "interval": "1m"}],
        "approval": {"mode": "manual"},
    }


def _spy(monkeypatch: pytest.MonkeyPatch, module: Any, built: list[FeedSessions]) -> None:
    real = module.build_feed_sessions

    def build(settings: Any) -> FeedSessions | None:
        engine = real(settings)
        built.append(engine)
        return engine

    monkeypatch.setattr(module, "build_feed_sessions", build)


async def _until(predicate: Any, what: str) -> None:
    for _ in range(600):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_daemon_fetches_through_the_engine_and_closes_it(
    portal: PortalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`syndicator run` polls through aiohttp directly; stopping closes its session."""
    built: list[FeedSessions] = []
    _spy(monkeypatch, runtime_module, built)
    portal.put("/f.rss", RSS)
    stop = asyncio.Event()
    task = asyncio.create_task(daemon.run(parse_config(_config(tmp_path, portal)), stop=stop))
    try:
        await _until(lambda: portal.hits.get("/f.rss", 0) >= 1, "the first poll")
        (engine,) = built
        session = engine._session
        assert session is not None and not session.closed  # the poll went through it
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert engine.closed and session.closed


async def test_a_reload_keeps_the_engine(
    portal: PortalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rebuilt poller fetches through the same engine; the runtime closes it once."""
    portal.put("/f.rss", RSS)
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps(_config(tmp_path, portal)), encoding="utf-8")
    settings = parse_config(_config(tmp_path, portal))
    storage = daemon.build_storage(settings)
    async with daemon.build_http_client(settings) as client:
        runtime = daemon.Runtime(settings, storage, client, config_path=str(cfg))
        engine = runtime.feeds
        assert engine is not None and runtime.poller.fetcher.engine is engine
        assert await runtime.reload()
        assert runtime.poller.fetcher.engine is engine
        (report,) = await runtime.poller.poll()
        assert report.new == 1 and not engine.closed
        await runtime.poller.close()
        await runtime.stop()
    assert engine.closed
    storage.close()


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_poll_once_closes_its_engine(
    portal: PortalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    """`poll --once` builds the engine for `transport = "aiohttp"` only, and closes it."""
    built: list[FeedSessions] = []
    _spy(monkeypatch, daemon, built)
    portal.put("/f.rss", RSS)
    raw = {**_config(tmp_path, portal), "fetch": {"transport": transport}}
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
    code = await asyncio.to_thread(cli_main, ["--config", str(cfg), "poll", "--once"])
    assert code == 0 and portal.hits["/f.rss"] == 1
    if transport == "httpx":
        assert built == [None]
    else:
        (engine,) = built
        assert engine is not None and engine.closed


def test_a_reload_names_the_fetch_settings_only_a_restart_applies(tmp_path: Path) -> None:
    """The clients keep their user agent, timeouts and engine: a reload that changes them
    says so (`reload_needs_restart`); the rest of [fetch] goes into the rebuilt fetcher."""
    from syndicator.botkeeper import restart_keys

    old = parse_config({"database": {"url": f"sqlite:///{tmp_path}/x.db"}})
    applied = old.model_copy(
        update={"fetch": old.fetch.model_copy(update={"deadline": timedelta(seconds=30),
                                                      "per_host": 2, "concurrency": 9})}
    )  # fmt: skip
    assert restart_keys(old, applied) == []
    changed = old.model_copy(
        update={"fetch": old.fetch.model_copy(update={"user_agent": "x", "transport": "httpx",
                                                      "read_timeout": timedelta(seconds=5)})}
    )  # fmt: skip
    assert restart_keys(old, changed) == [
        "fetch.user_agent", "fetch.read_timeout", "fetch.transport"
    ]  # fmt: skip
