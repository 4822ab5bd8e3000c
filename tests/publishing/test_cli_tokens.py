"""`channels set-token` and `channels check` as an operator runs them; tokens sealed at rest."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy import text

from syndicator.types import PostStatus as S
from tests.publishing.conftest import World, article

KEY = "một cụm mật khẩu đủ dài cho kiểm thử"


def _cli(
    cfg: Path, *args: str, stdin: str | None = None, key: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    if key:
        # The test's own key (tests/conftest.py): it also keys the audit chain the test verifies.
        env["SYNDICATOR_SECRET_KEY"] = os.environ.get("SYNDICATOR_SECRET_KEY", KEY)
    return subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(cfg), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_expired_page_token_then_set_token_resumes(world: World, tmp_path: Path) -> None:
    """A dead Page token pauses Facebook; set-token from stdin checks, seals, stores and resumes."""
    cfg = tmp_path / "s.toml"
    raw = {**world.raw, "approval": {"mode": "auto"}}
    cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
    world.graph.expire_token("PAGE_TOKEN")
    world.add(article(1))
    assert (await _run_publish(cfg)).returncode == 0
    assert world.storage.channel_status("facebook").status == "needs_credentials"
    check = await _acli(cfg, "channels", "check")
    assert check.returncode == 1 and "BROKEN" in check.stdout

    bad = await _acli(cfg, "channels", "set-token", "facebook", stdin="NOT-A-TOKEN\n")
    assert bad.returncode == 1 and "does not work" in bad.stderr
    world.graph.pages["1000000001"].add("FRESH_PAGE_TOKEN")
    good = await _acli(cfg, "channels", "set-token", "facebook", stdin="FRESH_PAGE_TOKEN\n")
    assert good.returncode == 0, good.stderr
    assert "resumed" in good.stdout and "FRESH_PAGE_TOKEN" not in good.stdout + good.stderr
    with world.storage.engine.connect() as conn:
        stored = conn.execute(text("select access_token from channel_tokens")).scalar()
    assert stored and stored.startswith("fernet1:") and "FRESH" not in stored
    assert (await _run_publish(cfg)).returncode == 0
    posts = {p.channel: p for p in world.storage.list_posts()}
    assert posts["facebook"].status == S.PUBLISHED and len(world.graph.live_posts()) == 1
    # Without the passphrase the sealed token cannot be used, and the error says why.
    nokey = await _acli(cfg, "channels", "check", key=False)
    assert nokey.returncode == 1 and "SYNDICATOR_SECRET_KEY" in nokey.stderr
    assert "FRESH_PAGE_TOKEN" not in "".join(e.data for e in world.storage.audit_events())


async def _acli(cfg: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    # The stand-ins run in this test's event loop: the CLI must not block it.
    return await asyncio.to_thread(lambda: _cli(cfg, *args, **kw))  # type: ignore[arg-type]


async def _run_publish(cfg: Path) -> subprocess.CompletedProcess[str]:
    return await _acli(cfg, "publish", "--once")
