"""`syndicator queue` and `publish --once` on a real database, channels on the stand-ins."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from syndicator.cli import main as cli_main
from syndicator.publishing.pacing import LOCAL
from syndicator.types import PostStatus as S
from tests.publishing.conftest import World, article


def quiet_around_now() -> tuple[str, datetime]:
    """A quiet window that contains the present moment (it began an hour ago, ends in two),
    and the end of it as aware UTC; minutes are truncated so the end is on the window."""
    local = datetime.now(UTC).astimezone(LOCAL).replace(second=0, microsecond=0)
    start, end = local - timedelta(hours=1), local + timedelta(hours=2)
    return f"{start:%H:%M}-{end:%H:%M}", end.astimezone(UTC)


def write_config(world: World, tmp_path: Path, **facebook: Any) -> Path:
    raw = json.loads(json.dumps(world.raw))
    raw["channels"]["facebook"].update(facebook)
    cfg = tmp_path / "syndicator.toml"
    cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return cfg


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    # The stand-ins run in this loop; the CLI runs its own loop in a thread.
    code = await asyncio.to_thread(cli_main, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


async def test_queue_lists_why_each_post_waits(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """jsonl rows carry the contract fields; approved posts in quiet hours say until when."""
    window, end = quiet_around_now()
    cfg = write_config(world, tmp_path, quiet_hours=window)
    world.add(article(1), article(2))
    world.publisher().plan()
    approved = world.storage.list_posts(article_id=1)
    world.storage.decide([p.id for p in approved], S.APPROVED, actor="t", now=datetime.now(UTC))

    code, out, _ = await cli(capsys, "--config", str(cfg), "queue", "--format", "jsonl")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    contract = {"id", "article_id", "title", "channel", "status", "waiting_for", "expected_at"}
    assert rows and all(contract <= set(r) for r in rows)
    by = {(r["article_id"], r["channel"]): r for r in rows}
    fb = by[(1, "facebook")]
    assert fb["status"] == "approved" and fb["waiting_for"] == "quiet_hours"
    assert datetime.fromisoformat(fb["expected_at"]) == end
    assert fb["expected_at"].endswith("+07:00")  # Vietnam time, offset named
    assert fb["title"] == article(1).title
    assert by[(1, "zalo")]["waiting_for"] == "nothing"  # no quiet hours on Zalo
    pending = by[(2, "facebook")]
    assert pending["waiting_for"] == "approval" and pending["expected_at"] is None
    assert pending["expires_at"] is not None

    code, out, _ = await cli(capsys, "--config", str(cfg), "queue", "--utc", "--format", "jsonl")
    assert json.loads(out.splitlines()[0])["expected_at"].endswith("+00:00")

    code, out, _ = await cli(capsys, "--config", str(cfg), "queue")
    assert code == 0
    assert "expected (Asia/Ho_Chi_Minh)" in out and "quiet hours until" in out
    assert "awaiting approval since" in out and "a2" in out


async def test_queue_names_a_paused_channel_and_an_empty_queue(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Posts of a channel paused for credentials have no expected time and say how to fix it."""
    cfg = write_config(world, tmp_path)
    code, out, _ = await cli(capsys, "--config", str(cfg), "queue")
    assert code == 0 and "the queue is empty" in out
    world.add(article(1))
    world.publisher().plan()
    now = datetime.now(UTC)
    world.storage.decide([p.id for p in world.storage.list_posts()], S.APPROVED, actor="t", now=now)
    world.storage.set_channel_status("zalo", "needs_credentials", reason="x", actor="t", now=now)
    code, out, _ = await cli(capsys, "--config", str(cfg), "queue", "--format", "jsonl",
                             "--channel", "zalo")  # fmt: skip
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["waiting_for"] == "credentials" and row["expected_at"] is None
    assert "syndicator channels set-token zalo" in row["reason"]


async def test_publish_once_says_why_a_channel_sent_nothing(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In Facebook's quiet hours publish --once sends the Zalo post and explains the other."""
    window, _ = quiet_around_now()
    cfg = write_config(world, tmp_path, quiet_hours=window)
    world.add(article(1))
    world.publisher().plan()
    ids = [p.id for p in world.storage.list_posts()]
    world.storage.decide(ids, S.APPROVED, actor="t", now=datetime.now(UTC))

    code, out, _ = await cli(capsys, "--config", str(cfg), "publish", "--once")
    assert code == 0
    assert "facebook sent nothing; 1 approved post(s) wait" in out
    assert "quiet hours until" in out and "Asia/Ho_Chi_Minh" in out
    assert "zalo sent nothing" not in out
    assert world.graph.live_posts() == []
    statuses = {p.channel: p.status for p in world.storage.list_posts()}
    assert statuses == {"facebook": S.APPROVED, "zalo": S.PUBLISHED}
