"""The daemon alone on a province server: Telegram unreachable or refusing the token while
Facebook and Zalo keep publishing; a changed secret key refuses to start; SIGHUP under the
shipped unit's layout (absolute --config, another working directory) reloads."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import tomli_w

from syndicator import secretbox
from syndicator.cli import main
from syndicator.errors import ConfigError
from syndicator.sandbox.world import SandboxWorld
from syndicator.storage import open_storage
from syndicator.types import PostStatus
from tests.e2e.daemon_helpers import TEST_KEY, Daemon, daemon_env, free_port, until


@pytest.fixture
async def world() -> AsyncIterator[SandboxWorld]:
    """All stand-ins on free ports."""
    w = SandboxWorld()
    await w.start()
    yield w
    await w.stop()


def _cli(cfg: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(cfg), *args],
        capture_output=True, text=True, env=daemon_env(**env), timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("telegram", ["unreachable", "wrong_token"])
async def test_publishing_goes_on_while_telegram_is_down(
    world: SandboxWorld, tmp_path: Path, telegram: str
) -> None:
    """A post approved with `syndicator approve` is published by `syndicator run` although the
    bot cannot start; one telegram_unreachable line, no traceback, /healthz names it."""
    db, port = tmp_path / "s.db", free_port()
    raw = world.config(f"sqlite:///{db}")
    if telegram == "unreachable":
        raw["approval"]["api_base"] = f"http://127.0.0.1:{free_port()}/bot"  # nothing listens
    else:
        raw["approval"]["bot_token"] = "999999:WRONG-TOKEN"
    raw["server"] = {"listen": f"127.0.0.1:{port}"}
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
    world.sample.release(datetime.now(UTC))
    for args in (("poll", "--once"), ("publish", "--once")):
        done = await asyncio.to_thread(_cli, cfg, *args)
        assert done.returncode == 0, done.stderr
    store = open_storage(f"sqlite:///{db}")
    article = store.list_posts(status=[PostStatus.PENDING])[0].article_id
    approved = await asyncio.to_thread(_cli, cfg, "approve", f"a{article}")
    assert approved.returncode == 0, approved.stderr

    daemon = Daemon(cfg, tmp_path / "daemon.log")
    daemon.start()
    try:
        await until(lambda: world.graph.live_posts() and world.zalo.live_articles(), 90, "posts")
        async with httpx.AsyncClient() as client:
            health = await client.get(f"http://127.0.0.1:{port}/healthz")
        await asyncio.sleep(6)  # at least one more start attempt of the bot
    finally:
        await daemon.stop()
    store.close()
    assert health.status_code == 503 and "telegram" in health.json()["problems"]
    reason = health.json()["checks"]["telegram"]["reason"]
    assert ("bot token" in reason) if telegram == "wrong_token" else ("[network] proxy" in reason)
    events = [json.loads(line).get("event") for line in daemon.output().splitlines()
              if line.startswith("{")]  # fmt: skip
    assert events.count("telegram_unreachable") == 1
    assert "Traceback" not in daemon.output()


async def test_wrong_key_refuses_to_start(db_url: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Tokens stored under one key and a daemon started with another: exit 1, naming the
    channel and `channels set-token`, before anything is polled or published."""
    monkeypatch.setenv(secretbox.ENV, TEST_KEY)
    store = open_storage(db_url)
    store.save_tokens("zalo", access_token="A", refresh_token="R", access_expires_at=None,
                      refresh_obtained_at=None, now=datetime.now(UTC))  # fmt: skip
    store.close()
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps({"database": {"url": db_url}}), encoding="utf-8")
    other = "another-key-of-the-right-length"
    result = await asyncio.to_thread(_cli, cfg, "run", SYNDICATOR_SECRET_KEY=other)
    assert result.returncode == 1
    assert "channel 'zalo'" in result.stderr
    assert "syndicator channels set-token zalo" in result.stderr
    assert "Traceback" not in result.stderr


def test_tokens_without_a_key_are_refused_unless_allowed(
    storage: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key: save_tokens raises and writes nothing; [security] allow_plaintext_tokens allows."""
    monkeypatch.delenv(secretbox.ENV, raising=False)
    kw = {"access_token": "A", "refresh_token": "R", "access_expires_at": None,
          "refresh_obtained_at": None, "now": datetime.now(UTC)}  # fmt: skip
    with pytest.raises(ConfigError, match="allow_plaintext_tokens"):
        storage.save_tokens("zalo", **kw)  # type: ignore[attr-defined]
    assert storage.load_tokens("zalo") is None  # type: ignore[attr-defined]
    storage.allow_plaintext_tokens = True  # type: ignore[attr-defined]
    storage.save_tokens("zalo", **kw)  # type: ignore[attr-defined]
    assert storage.load_tokens("zalo").refresh_token == "R"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("key", "says"),
    [("short", "at least 16"), (secretbox.PLACEHOLDER, "placeholder"), ("", "is not set")],
)
def test_check_config_rejects_weak_keys(
    key: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """check-config exits 1 for a short key, the example's placeholder, or no key at all."""
    cfg = tmp_path / "s.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path}/s.db"\n', encoding="utf-8")
    monkeypatch.setenv(secretbox.ENV, key)
    assert main(["--config", str(cfg), "check-config"]) == 1
    assert says in capsys.readouterr().err
    monkeypatch.setenv(secretbox.ENV, TEST_KEY)
    assert main(["--config", str(cfg), "check-config"]) == 0


async def test_sighup_reloads_the_file_under_the_unit_layout(
    world: SandboxWorld, tmp_path: Path
) -> None:
    """Absolute --config in /etc-like dir, working directory elsewhere (as the shipped unit):
    SIGHUP re-reads that file and reconfigures approvers and channels (config.reloaded)."""
    etc, state = tmp_path / "etc", tmp_path / "var-lib"
    etc.mkdir()
    state.mkdir()
    db = state / "syndicator.db"
    raw = world.config(f"sqlite:///{db}")
    cfg = etc / "syndicator.toml"
    cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
    daemon = Daemon(cfg, tmp_path / "daemon.log", cwd=state)
    proc = daemon.start()
    store = open_storage(f"sqlite:///{db}")
    try:
        await until(lambda: "daemon_started" in daemon.output(), 60, "the start")
        raw["approval"]["approvers"] = [*raw["approval"]["approvers"], 222222222]
        del raw["channels"]["zalo"]
        cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
        os.kill(proc.pid, signal.SIGHUP)
        event = await until(
            lambda: next((e for e in store.audit_events() if e.kind == "config.reloaded"), None),
            30, "config.reloaded",
        )  # fmt: skip
        assert proc.poll() is None
    finally:
        await daemon.stop()
        store.close()
    data = json.loads(event.data) if isinstance(event.data, str) else event.data  # type: ignore[attr-defined]
    assert data["config"] == str(cfg) and data["channels"] == ["facebook"]
    assert 222222222 in data["approvers"]
    assert not (state / "syndicator.toml").exists()
