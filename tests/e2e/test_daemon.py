"""`syndicator run` as a real process against the stand-ins: approve in Telegram, see both posts,
survive SIGHUP with a bad config, stop on SIGTERM mid-publish without a double post, refuse a
second instance, answer /healthz and /metrics, and never print a secret."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import tomli_w

from syndicator.sandbox.world import APPROVER, BOT_TOKEN, PAGE_TOKEN, STAFF_CHAT, SandboxWorld
from syndicator.storage import open_storage
from syndicator.types import PostStatus
from tests.e2e.daemon_helpers import Daemon, approve_data, free_port, until


@pytest.fixture
async def world() -> AsyncIterator[SandboxWorld]:
    """All stand-ins on free ports."""
    w = SandboxWorld()
    await w.start()
    yield w
    await w.stop()


async def test_daemon_end_to_end(world: SandboxWorld, tmp_path: Path) -> None:
    """One article goes from the portal through a Telegram tap to Facebook and Zalo."""
    db = tmp_path / "s.db"
    port = free_port()
    raw = world.config(f"sqlite:///{db}", interval="10s")
    raw["server"] = {"listen": f"127.0.0.1:{port}"}
    raw["logging"] = {"level": "debug"}
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
    log = tmp_path / "daemon.log"
    daemon = Daemon(cfg, log)
    proc = daemon.start()
    try:
        world.sample.release(datetime.now(UTC))
        message = await until(
            lambda: next(
                (m for m in world.telegram.chat_messages(STAFF_CHAT) if approve_data(m)), None
            ),
            60,
            "the preview",
        )
        assert isinstance(message, dict)
        world.telegram.inject_callback(
            STAFF_CHAT, message["message_id"], APPROVER, approve_data(message) or ""
        )
        await until(
            lambda: world.graph.live_posts() and world.zalo.live_articles(), 60, "both posts"
        )

        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
            metrics = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert health.status_code == 200, health.text
        assert metrics.status_code == 200 and "syndicator_" in metrics.text

        # A second daemon on the same SQLite file refuses to start, saying why.
        second = subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", str(cfg), "run"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1 and "already running" in second.stderr

        # SIGHUP with a broken config: the daemon keeps running on the old one.
        good = cfg.read_text(encoding="utf-8")
        cfg.write_text(good.replace('kind = "rss"', 'kind = "atom"', 1), encoding="utf-8")
        os.kill(proc.pid, signal.SIGHUP)
        store = open_storage(f"sqlite:///{db}")
        await until(
            lambda: any(e.kind == "config.reload_rejected" for e in store.audit_events()),
            20,
            "the rejected reload",
        )
        assert proc.poll() is None
        cfg.write_text(good, encoding="utf-8")

        # SIGTERM while a Graph create is in flight, then a restart: exactly one post.
        world.graph.add_fault("slow", scope="publish", delay=4)
        world.sample.release(datetime.now(UTC))
        await until(
            lambda: [
                m
                for m in world.telegram.chat_messages(STAFF_CHAT)
                if approve_data(m) and m["message_id"] != message["message_id"]
            ],
            60,
            "the second preview",
        )
        second_preview = [m for m in world.telegram.chat_messages(STAFF_CHAT) if approve_data(m)][
            -1
        ]
        world.telegram.inject_callback(
            STAFF_CHAT, second_preview["message_id"], APPROVER, approve_data(second_preview) or ""
        )
        await until(
            lambda: store.list_posts(status=[PostStatus.PUBLISHING]), 30, "a post in flight"
        )
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 15)
        assert time.monotonic() - started < 10.5 and proc.returncode == 0
        proc = daemon.start()
        await until(
            lambda: len(world.graph.live_posts()) == 2 and len(world.zalo.live_articles()) == 2,
            90,
            "the second article on both channels",
        )
        await asyncio.sleep(3)
        links = [p.link for p in world.graph.live_posts()]
        assert len(links) == len(set(links)) == 2
        assert len(world.zalo.live_articles()) == 2
        assert all(p.status.value == "published" for p in store.list_posts())
        assert store.verify_audit().ok
        store.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 15)
    output = log.read_text(encoding="utf-8", errors="replace")
    assert '"event": "poll_cycle"' in output and '"event": "post_published"' in output
    secrets = [
        BOT_TOKEN,
        PAGE_TOKEN,
        world.zalo.secret_key,
        "zalo-refresh-0",
        world.zalo.refresh_token,
        *world.zalo.access_tokens,
    ]
    leaked = [s for s in secrets if s in output]
    assert leaked == [], f"secrets in the logs: {leaked}"
