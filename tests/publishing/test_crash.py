"""SIGKILL in the middle of publishing, then a restart: exactly one post each, none missing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import tomli_w

from syndicator.types import PostStatus as S
from tests.publishing.conftest import World, article


def _start(cfg: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "syndicator", "--config", str(cfg), "publish", "--once"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def test_sigkill_while_publishing_then_restart(world: World, tmp_path: Path) -> None:
    """Kill -9 with a Graph create in flight and a Zalo create accepted; restart publishes once."""
    raw = {**world.raw, "approval": {"mode": "auto"}}
    raw["publishing"] = {**raw["publishing"], "reconcile_checks": 2}
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
    world.add(article(1), article(2), article(3))
    world.graph.add_fault("slow", scope="publish", delay=5)
    world.zalo.add_fault("accept_then_hang", scope="create", hold=30)

    proc = _start(cfg)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if world.storage.list_posts(status=[S.PUBLISHING]) and any(
            a for a in world.zalo.articles.values()
        ):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    await asyncio.to_thread(proc.wait)
    assert world.storage.list_posts(status=[S.PUBLISHING]), "killed before anything was in flight"

    for _ in range(3):
        again = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "syndicator", "--config", str(cfg), "publish", "--once"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr
    posts = world.storage.list_posts()
    assert len(posts) == 6 and all(p.status == S.PUBLISHED for p in posts), [
        (p.id, p.channel, p.status, p.last_error) for p in posts
    ]
    links = [p.link for p in world.graph.live_posts()]
    assert sorted(links) == sorted(set(links)) and len(links) == 3
    titles = [a.title for a in world.zalo.live_articles()]
    assert len(titles) == 3 and len(set(titles)) == 3
    assert world.storage.verify_audit().ok


async def test_sigkill_between_zalo_create_and_verify(world: World, tmp_path: Path) -> None:
    """Kill -9 after Zalo's create handed back its processing token, while verify is pending:
    the restart verifies that token; there is one article, never a second create."""
    raw = {**world.raw, "approval": {"mode": "auto"}}
    raw["channels"] = {"zalo": raw["channels"]["zalo"]}
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
    world.add(article(1))
    world.zalo.add_fault("slow", scope="verify", delay=30)

    proc = _start(cfg)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if any(p.handle for p in world.storage.list_posts(status=[S.PUBLISHING])):
            break
        await asyncio.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    await asyncio.to_thread(proc.wait)
    [left] = world.storage.list_posts()
    assert left.status == S.PUBLISHING and left.handle, "killed before the token was stored"

    world.zalo.faults.clear()
    for _ in range(2):
        again = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "syndicator", "--config", str(cfg), "publish", "--once"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr
    [post] = world.storage.list_posts()
    assert post.status == S.PUBLISHED and len(world.zalo.live_articles()) == 1
    creates = [r for r in world.zalo.requests if r["path"].endswith("/article/create")]
    assert len(creates) == 1
