"""Set-up helpers: `telegram discover` on the Telegram stand-in, `sources discover` on a local
homepage with feeds."""

from __future__ import annotations

import asyncio
import json
import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from aiohttp import web

from syndicator.cli import main as cli_main
from syndicator.cli.discover_cmds import advertised_feeds, source_id
from syndicator.config import parse_config
from syndicator.sandbox import TelegramServer

DATA = Path(__file__).parents[1] / "data" / "feeds"
TOKEN = "123456:SANDBOX-TOKEN"
GROUP, BASIC_GROUP = -1001234567890, -4001234567
APPROVER, ADMIN, STRANGER = 111111111, 222222222, 555555555

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    # The stand-ins run in this loop; the CLI runs its own loop in a thread.
    code = await asyncio.to_thread(cli_main, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def telegram_config(tmp_path: Path, telegram: TelegramServer, **approval: Any) -> Path:
    cfg = tmp_path / "syndicator.toml"
    raw = {"database": {"url": f"sqlite:///{tmp_path}/s.db"},
           "approval": {"mode": "manual", "bot_token": TOKEN,
                        "api_base": f"{telegram.base_url}/bot", **approval}}  # fmt: skip
    cfg.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return cfg


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramServer]:
    server = TelegramServer([TOKEN], flood_rate=None)
    await server.start()
    yield server
    await server.stop()


async def test_telegram_discover_lists_chats_and_users_without_consuming(
    telegram: TelegramServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Chats (id, type, title) and users (id, name) are printed; the updates stay pending."""
    telegram.add_chat(GROUP, "Ban biên tập Cổng TTĐT", "supergroup")
    telegram.inject_message(GROUP, APPROVER, "/whoami", first_name="Nguyễn Văn A")
    telegram.inject_message(STRANGER, STRANGER, "xin chào", first_name="Trần Thị B")
    # The bot added to a basic group: a my_chat_member update names the group and who added it.
    telegram.bot().push_update("my_chat_member", {
        "chat": {"id": BASIC_GROUP, "type": "group", "title": "Nhóm quản trị"},
        "from": {"id": ADMIN, "is_bot": False, "first_name": "Lê", "last_name": "Quản Trị"},
        "date": 0, "old_chat_member": {}, "new_chat_member": {},
    })  # fmt: skip
    pending = [u["update_id"] for u in telegram.bot().updates]
    cfg = telegram_config(tmp_path, telegram)

    code, out, err = await cli(capsys, "--config", str(cfg), "telegram", "discover",
                               "--seconds", "2")  # fmt: skip
    assert code == 0, err
    for cells in ((GROUP, "supergroup", "Ban biên tập Cổng TTĐT"),
                  (BASIC_GROUP, "group", "Nhóm quản trị"), (APPROVER, "Nguyễn Văn A"),
                  (ADMIN, "Lê Quản Trị"), (STRANGER, "Trần Thị B")):  # fmt: skip
        assert re.search(r"^" + r"\s+".join(map(str, cells)) + r"\s*$", out, re.M), cells
    assert "basic group's id changes" in out
    # Nothing was confirmed: the daemon still gets every update.
    assert [u["update_id"] for u in telegram.bot().updates] == pending
    calls = [r for r in telegram.requests if r["path"] == "getupdates"]
    assert calls and all("offset" not in r["params"] for r in calls)


async def test_telegram_discover_refuses_clearly(
    telegram: TelegramServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A webhook (409), bad --seconds, a missing token and a wrong token are clear errors."""
    cfg = telegram_config(tmp_path, telegram)
    telegram.bot().webhook_url = "https://portal.example.gov.vn/hook"
    code, _, err = await cli(capsys, "--config", str(cfg), "telegram", "discover", "--seconds", "1")
    assert code == 1 and "webhook is set" in err and "409" in err

    code, _, err = await cli(capsys, "--config", str(cfg), "telegram", "discover", "--seconds", "0")
    assert code == 1 and "--seconds must be between 1 and 600" in err

    nothing = tmp_path / "none.toml"
    nothing.write_text('[approval]\nmode = "manual"\n', encoding="utf-8")
    code, _, err = await cli(capsys, "--config", str(nothing), "telegram", "discover")
    assert code == 1 and "bot_token is not set" in err

    wrong = telegram_config(tmp_path, telegram, bot_token="999:WRONG")
    code, _, err = await cli(capsys, "--config", str(wrong), "telegram", "discover",
                             "--seconds", "1")  # fmt: skip
    assert code == 1 and "refused the bot token" in err


async def test_telegram_discover_when_nobody_writes(
    telegram: TelegramServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no updates it says what to do and exits 1."""
    cfg = telegram_config(tmp_path, telegram)
    code, out, _ = await cli(capsys, "--config", str(cfg), "telegram", "discover", "--seconds", "1")
    assert code == 1 and "write /whoami" in out


# -- sources discover -------------------------------------------------------------------------

HOMEPAGE = """<!doctype html><html><head>
<title>Sở Tài chính tỉnh — Trang chủ</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="Tin tức" href="rss/tin-tuc.rss">
<link rel="alternate" type="application/atom+xml" href="{base}/atom.xml">
<link rel="alternate" type="application/feed+json" title="JSON" href="/feed.json">
<link rel="alternate" type="application/rss+xml" title="Cũ" href="/cu.rss">
<link rel="alternate" type="application/rss+xml" title="Trùng" href="/rss/tin-tuc.rss">
</head><body><p>Trang chủ</p></body></html>"""
JSON_FEED = {"version": "https://jsonfeed.org/version/1.1", "title": "STC", "items": [
    {"id": "1", "url": "https://stc.example.gov.vn/a/1", "title": "Thông báo đấu thầu",
     "content_html": "<p>Nội dung</p>", "date_published": "2025-11-14T08:00:00+07:00"}]}  # fmt: skip


@pytest.fixture
async def homepage() -> AsyncIterator[str]:
    """A department site on a free port: a homepage advertising four feeds, one missing."""
    rss = (DATA / "gov_feed_utf8_nfd.xml").read_bytes()
    atom = (DATA / "wellformed__atom__relative_uri.xml").read_bytes()
    base: dict[str, str] = {}

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=HOMEPAGE.format(base=base["url"]), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/rss/tin-tuc.rss", serve(rss, "application/rss+xml"))
    app.router.add_get("/atom.xml", serve(atom, "application/atom+xml"))
    app.router.add_get("/feed.json", serve(json.dumps(JSON_FEED).encode(), "application/feed+json"))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield base["url"]
    await runner.cleanup()


def serve(body: bytes, kind: str) -> Any:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=kind)

    return handler


async def test_sources_discover_prints_blocks_that_validate(
    homepage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each advertised feed is fetched and parsed; the blocks paste into a valid config."""
    code, out, err = await cli(capsys, "--config", str(tmp_path / "absent.toml"),
                               "sources", "discover", f"{homepage}/")  # fmt: skip
    assert code == 0, err
    assert f"# feed 1: {homepage}/rss/tin-tuc.rss (application/rss+xml) — parses:" in out
    assert f"{homepage}/atom.xml (application/atom+xml) — parses:" in out
    assert f"{homepage}/feed.json (application/feed+json) — parses: 1 item(s)" in out
    assert f"{homepage}/cu.rss (application/rss+xml) — DOES NOT PARSE: HTTP 404" in out
    assert out.count("# feed ") == 4  # the duplicate link is listed once
    pasted = tomllib.loads(out)  # the failing feed's block is commented out
    config = parse_config({"sources": pasted["sources"]})
    assert [s.kind for s in config.sources] == ["rss", "rss", "json"]
    assert config.sources[0].agency == "Sở Tài chính tỉnh — Trang chủ"
    assert config.sources[0].name == "Tin tức"
    assert "using default [fetch] settings" in err  # no config yet: still works


async def test_sources_discover_refuses_bad_input(
    homepage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a URL, an unreachable page and a page with no feed are clear errors (exit 1)."""
    cfg = str(tmp_path / "absent.toml")
    code, _, err = await cli(capsys, "--config", cfg, "sources", "discover", "stc.gov.vn")
    assert code == 1 and "is not an http(s) URL" in err
    code, _, err = await cli(capsys, "--config", cfg, "sources", "discover", f"{homepage}/nope")
    assert code == 1 and "cannot read" in err and "404" in err
    code, out, _ = await cli(capsys, "--config", cfg, "sources", "discover", f"{homepage}/atom.xml")
    assert code == 1 and "advertises no feed" in out


def test_advertised_feeds_and_ids() -> None:
    """Links resolve against <base href>; ids are ASCII, unique, from host and path."""
    html = ('<base href="https://stc.example.gov.vn/vi/">'
            '<link rel="alternate feed" type="application/rss+xml; charset=utf-8" href="rss/Đấu-thầu.rss">'
            '<link rel="alternate" type="text/html" href="/other">')  # fmt: skip
    feeds, _ = advertised_feeds(html, "https://stc.example.gov.vn/")
    assert feeds == [("https://stc.example.gov.vn/vi/rss/Đấu-thầu.rss", "application/rss+xml", "")]
    taken: set[str] = set()
    assert source_id(feeds[0][0], taken) == "stc-dau-thau"
    assert source_id(feeds[0][0], taken) == "stc-dau-thau-2"
    assert source_id("https://www.sotc.gov.vn/", set()) == "sotc"
