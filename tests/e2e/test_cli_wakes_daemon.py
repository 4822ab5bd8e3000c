"""`syndicator approve` in another process wakes a running daemon's publisher (issue 11, goal 6).

The daemon's publishing interval is an hour, so after its start-up cycle the publisher only
runs again when something wakes it. A post waits for approval; `syndicator approve N` runs as
a separate process; the post must reach the Graph stand-in. Nothing else could make it go out
within the test, so its arrival shows the wake worked (SQLite: data_version and the newest
approval; PostgreSQL: NOTIFY/LISTEN). No timing is asserted beyond "it arrived".
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w

from syndicator.sandbox.world import SandboxWorld
from syndicator.storage import PostPlan, open_storage
from syndicator.types import Post, PostStatus
from tests.e2e.daemon_helpers import Daemon, daemon_env, until
from tests.publishing.conftest import article


@pytest.fixture
async def world() -> AsyncIterator[SandboxWorld]:
    """All stand-ins on free ports."""
    w = SandboxWorld()
    await w.start()
    yield w
    await w.stop()


async def test_cli_approval_wakes_the_daemon(
    world: SandboxWorld, db_url: str, tmp_path: Path
) -> None:
    """A post approved by `syndicator approve` goes live although the publisher naps 1 h."""
    raw = world.config(db_url)
    raw["approval"] = {"mode": "manual"}
    raw["channels"] = {"facebook": raw["channels"]["facebook"]}
    raw["publishing"] = {**raw["publishing"], "interval": "1h"}
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
    source = raw["sources"][0]["id"]
    storage = open_storage(db_url)
    now = datetime.now(UTC)
    storage.sync_sources([(source, raw["sources"][0]["url"])], now)
    [new] = storage.add_articles(source, [article(1, source_id=source)], now).new
    assert new.id is not None
    post = Post(
        "facebook", new.id, {"message": "Tin mới", "link": new.canonical_url}, "Tin mới", ""
    )
    [record] = storage.save_plans(new.id, [PostPlan(post, PostStatus.PENDING)], now)
    daemon = Daemon(cfg, tmp_path / "daemon.log")
    daemon.start()
    try:
        await until(lambda: "decision_watch_started" in daemon.output(), 60, "the publisher")
        await asyncio.sleep(2.0)  # past its first cycle: from now on it naps for an hour
        assert world.graph.live_posts() == []
        approve = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "syndicator", "--config", str(cfg), "approve", str(record.id)],
            capture_output=True, text=True, timeout=60, env=daemon_env(), check=False,
        )  # fmt: skip
        assert approve.returncode == 0, approve.stderr
        await until(lambda: world.graph.live_posts(), 60, "the approved post on the Page")
        assert "decision_watch_woke" in daemon.output()  # the watch, not a timer, sent it
    finally:
        await daemon.stop()
        storage.close()
    stored = open_storage(db_url, migrate=False)
    try:
        published = stored.get_post(record.id)
    finally:
        stored.close()
    assert published is not None and published.status == PostStatus.PUBLISHED
    assert len(world.graph.live_posts()) == 1
