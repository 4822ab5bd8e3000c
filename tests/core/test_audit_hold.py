"""A restarted daemon walks the audit trail's backlog after its first wave of polls, not
during it (runtime.py: first_wave; issue 11: the walk was a tenth of a restart's first poll)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import daemon
from syndicator import runtime as runtime_module
from syndicator.config import parse_config
from syndicator.sandbox.portal import PortalServer
from tests.core.test_feed_sessions import RSS


async def test_the_audit_loop_waits_for_the_first_wave(
    portal: PortalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal.put("/f.rss", RSS)
    settings = parse_config({
        "database": {"url": f"sqlite:///{tmp_path}/s.db"},
        "sources": [{"id": "s", "url": portal.url("/f.rss"), "interval": "1m"}],
        "approval": {"mode": "manual"},
    })  # fmt: skip
    started: list[int] = []

    async def watch_audit(*args: Any) -> None:
        started.append(portal.hits.get("/f.rss", 0))

    monkeypatch.setattr(runtime_module.service, "watch_audit", watch_audit)
    storage = daemon.build_storage(settings)
    stop = asyncio.Event()
    async with daemon.build_http_client(settings) as client:
        runtime = daemon.Runtime(settings, storage, client)
        audit = asyncio.create_task(runtime.audit_loop(stop))
        await asyncio.sleep(0.3)
        assert not started and not runtime.first_wave.is_set()  # no poll yet: it waits
        polls = asyncio.create_task(runtime.poll_loop(stop))
        await asyncio.wait_for(audit, 10)
        assert started == [1]  # after the first (and only) source was polled
        stop.set()
        await asyncio.wait_for(polls, 10)
        await runtime.stop()
    storage.close()


async def test_the_audit_loop_does_not_wait_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll loop that never settles holds the checks AUDIT_HOLD_S at most."""
    settings = parse_config({"database": {"url": f"sqlite:///{tmp_path}/s.db"},
                             "approval": {"mode": "manual"}})  # fmt: skip
    called = asyncio.Event()

    async def watch_audit(*args: Any) -> None:
        called.set()

    monkeypatch.setattr(runtime_module.service, "watch_audit", watch_audit)
    monkeypatch.setattr(runtime_module, "AUDIT_HOLD_S", 0.2)
    storage = daemon.build_storage(settings)
    async with daemon.build_http_client(settings) as client:
        runtime = daemon.Runtime(settings, storage, client)
        await asyncio.wait_for(runtime.audit_loop(asyncio.Event()), 5)
        assert called.is_set() and not runtime.first_wave.is_set()
        await runtime.stop()
    storage.close()
