"""Whatever one portal does (drip, bomb, HTML, flood, NUL), the others are polled and stored.

Every test goes over real sockets to the stand-in portal, on SQLite and PostgreSQL, and on
both feed engines (aiohttp directly, and httpx): the guards of issue 10 hold on each.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from syndicator.config import Settings, parse_config
from syndicator.poller import Poller, SourceReport
from syndicator.sandbox.portal import PortalServer
from syndicator.storage import Storage, open_storage
from tests.core.engines import ENGINES, open_poller

HOSTILE = Path(__file__).parents[1] / "data" / "hostile"
START = datetime(2025, 11, 14, 3, 0, tzinfo=UTC)
_ENGINE = {"transport": "aiohttp"}  # set per test by the `engine` fixture


@pytest.fixture(autouse=True, params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each test on each feed engine: settings_for writes it as `[fetch] transport`."""
    _ENGINE["transport"] = request.param
    return str(request.param)


def rss(*items: tuple[str, str], link_base: str = "https://so.gov.vn/tin/") -> str:
    body = "".join(
        f"<item><title>{t}</title><link>{link_base}{g}</link><guid>{g}</guid>"
        f"<description>Nội dung {t}</description></item>"
        for g, t in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>S</title>'
        f"{body}</channel></rss>"
    )


def settings_for(url: str, sources: list[dict[str, Any]], **extra: Any) -> Settings:
    fetch = {
        "read_timeout": "2s",
        "connect_timeout": "2s",
        "transport": _ENGINE["transport"],
        **extra.pop("fetch", {}),
    }
    return parse_config({"database": {"url": url}, "sources": sources, "fetch": fetch, **extra})


async def poll_once(settings: Settings, storage: Storage) -> dict[str, SourceReport]:
    async with open_poller(settings, storage) as poller:
        return {r.source_id: r for r in await poller.poll()}


async def test_drip_source_never_holds_up_a_healthy_one(portal: PortalServer, db_url: str) -> None:
    """Through the daemon's poll loop body (poll_due): the healthy source is polled at each of
    its due times while the dripping one is still in flight."""
    portal.put("/slow.rss", rss(*((str(i), f"Tin chậm {i}") for i in range(50))))
    portal.put("/ok.rss", rss(("1", "Tin một")))
    # One byte every 0.3 s: never a 2 s read timeout; the deadline is far away.
    portal.add_fault("drip", scope="/slow.rss", every=0.3)
    settings = settings_for(
        db_url,
        [
            {"id": "slow", "url": portal.url("/slow.rss"), "interval": "10s"},
            {"id": "ok", "url": portal.url("/ok.rss"), "interval": "10s"},
        ],
        fetch={"deadline": "600s"},
    )
    storage = open_storage(db_url)
    now = [START]
    async with open_poller(settings, storage, clock=lambda: now[0]) as poller:
        try:
            for round_ in range(3):
                reports: list[SourceReport] = []
                while not any(r.source_id == "ok" for r in reports):
                    reports = await poller.poll_due()
                    await asyncio.sleep(0.05)
                assert [r.source_id for r in reports] == ["ok"]
                assert reports[0].failed is False
                assert poller.in_flight == 1  # the drip is still being read
                now[0] += timedelta(seconds=12)  # past the interval and its 10 % jitter
                assert portal.hits["/ok.rss"] == round_ + 1
            assert portal.hits["/slow.rss"] == 1
        finally:
            await poller.close()
    assert poller.in_flight == 0
    storage.close()


async def test_deadline_ends_a_drip_and_records_it(portal: PortalServer, db_url: str) -> None:
    """fetch.deadline bounds a drip that no read timeout catches; the error says which key."""
    portal.put("/slow.rss", rss(*((str(i), f"Tin chậm {i}") for i in range(50))))
    portal.put("/ok.rss", rss(("1", "Tin một")))
    portal.add_fault("drip", scope="/slow.rss", every=0.3)
    settings = settings_for(
        db_url,
        [
            {"id": "slow", "url": portal.url("/slow.rss")},
            {"id": "ok", "url": portal.url("/ok.rss")},
        ],
        fetch={"deadline": "1s"},
    )
    storage = open_storage(db_url)
    reports = await poll_once(settings, storage)
    assert reports["ok"].new == 1 and not reports["ok"].failed
    assert reports["slow"].failed
    assert reports["slow"].errors[0].startswith("deadline:")
    assert "fetch.deadline" in reports["slow"].errors[0]
    state = storage.source_state("slow")
    assert state is not None and state.error_count == 1
    storage.close()


async def test_double_gzip_bomb_is_refused(portal: PortalServer, db_url: str) -> None:
    """`Content-Encoding: gzip, gzip` (1.8 KB that would unpack to 1 GiB) is refused unread."""
    bomb = (HOSTILE / "gzip_gzip_bomb.bin").read_bytes()
    portal.put("/bomb.rss", bomb, content_encoding="gzip, gzip")
    portal.put("/ok.rss", rss(("1", "Tin một")))
    settings = settings_for(
        db_url,
        [
            {"id": "bomb", "url": portal.url("/bomb.rss")},
            {"id": "ok", "url": portal.url("/ok.rss")},
        ],
    )
    storage = open_storage(db_url)
    reports = await poll_once(settings, storage)
    assert reports["bomb"].failed
    assert "more than one compression layer" in reports["bomb"].errors[0]
    assert reports["ok"].new == 1
    storage.close()


async def test_single_layer_bomb_stops_at_the_cap(portal: PortalServer, sqlite_url: str) -> None:
    """One gzip layer is decoded as a stream and stops at max_body_bytes, not after."""
    bomb = gzip.compress(bytes(64 * 1024 * 1024), 9)  # 64 MiB of zeros in ~64 KB
    portal.put("/bomb.rss", bomb, content_encoding="gzip")
    ok = gzip.compress(rss(("1", "Tin một")).encode())
    portal.put("/ok.rss", ok, content_encoding="gzip")
    settings = settings_for(
        sqlite_url,
        [
            {"id": "bomb", "url": portal.url("/bomb.rss")},
            {"id": "ok", "url": portal.url("/ok.rss")},
        ],
        fetch={"max_body_bytes": 1024 * 1024},
    )
    storage = open_storage(sqlite_url)
    reports = await poll_once(settings, storage)
    assert reports["bomb"].failed and "once decompressed" in reports["bomb"].errors[0]
    assert reports["ok"].new == 1  # a normal gzip body still decodes
    storage.close()


async def test_unknown_coding_is_an_error_of_that_source(
    portal: PortalServer, sqlite_url: str
) -> None:
    """A coding that was not asked for (br) fails that source with a message, nothing else."""
    portal.put("/br.rss", b"\x0b\x02\x80hello\x03", content_encoding="br")
    settings = settings_for(sqlite_url, [{"id": "br", "url": portal.url("/br.rss")}])
    storage = open_storage(sqlite_url)
    reports = await poll_once(settings, storage)
    assert reports["br"].failed and "unsupported Content-Encoding 'br'" in reports["br"].errors[0]
    storage.close()


async def test_utf16_entity_bomb_is_refused(portal: PortalServer, db_url: str) -> None:
    """Billion laughs in UTF-16 (the bypass of issue 10) is refused after decoding."""
    lol = '<!ENTITY lol "lol">'
    for i in range(1, 10):
        ref = "&lol;" if i == 1 else f"&lol{i - 1};"
        lol += f'<!ENTITY lol{i} "{ref * 10}">'
    doc = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        f'<!DOCTYPE rss [{lol}]><rss version="2.0"><channel><item><title>&lol9;</title>'
        "<link>https://so.gov.vn/a</link></item></channel></rss>"
    )
    portal.put("/lol.rss", doc.encode("utf-16"), content_type="application/rss+xml")
    settings = settings_for(db_url, [{"id": "lol", "url": portal.url("/lol.rss")}])
    storage = open_storage(db_url)
    reports = await poll_once(settings, storage)
    assert reports["lol"].failed and "refused: entity" in reports["lol"].errors[0]
    assert storage.list_articles() == []
    storage.close()


async def test_html_page_names_the_feeds_it_advertises(portal: PortalServer, db_url: str) -> None:
    """An HTML page as the feed URL is an error listing its <link rel=alternate> feeds."""
    page = (
        "<!DOCTYPE html><html><head><title>Tin tức</title>"
        '<link rel="alternate" type="application/rss+xml" href="/rss/tin-tuc.rss">'
        '<link rel="alternate" type="application/atom+xml" href="https://so.gov.vn/atom">'
        "</head><body><h1>Tin tức</h1></body></html>"
    )
    portal.put("/tin-tuc", page, content_type="text/html; charset=utf-8")
    settings = settings_for(db_url, [{"id": "page", "url": portal.url("/tin-tuc")}])
    storage = open_storage(db_url)
    report = (await poll_once(settings, storage))["page"]
    assert report.failed
    error = report.errors[0]
    assert "not a feed: the URL returned an HTML page" in error
    assert portal.url("/rss/tin-tuc.rss") in error and "https://so.gov.vn/atom" in error
    state = storage.source_state("page")
    assert state is not None and "advertises these feeds" in (state.last_error or "")
    # Polled again (304 now): the error stands, the source is not "ok".
    await poll_once(settings, storage)
    state = storage.source_state("page")
    assert state is not None and "not a feed" in (state.last_error or "")
    storage.close()


async def test_nul_and_surrogate_in_json_title_are_stored(
    portal: PortalServer, db_url: str
) -> None:
    """A NUL (and a lone surrogate) in a JSON title: the item is stored, cleaned, on both
    backends; the other items too."""
    items = [
        {"id": 1, "title": "Tin\u0000 một\ud800", "url": "https://so.gov.vn/1"},
        {"id": 2, "title": "Tin \u202ehai\u202c\u001b[31m", "url": "https://so.gov.vn/2"},
    ]
    body = json.dumps({"items": items}).encode()  # ensure_ascii: \u0000 and \ud800 escapes
    portal.put("/api", body, content_type="application/json")
    settings = settings_for(db_url, [{"id": "api", "kind": "json", "url": portal.url("/api")}])
    storage = open_storage(db_url)
    report = (await poll_once(settings, storage))["api"]
    assert not report.failed and report.new == 2
    titles = sorted(a.title for a in storage.list_articles())
    assert titles == ["Tin hai[31m", "Tin một"]
    storage.close()


async def test_json_mapping_that_matches_nothing_names_the_key(
    portal: PortalServer, sqlite_url: str
) -> None:
    """A wrong title path is an error naming mapping.title, not summaries posing as titles."""
    items = [{"id": 1, "tieude": "Tin một", "url": "https://so.gov.vn/1", "summary": "Tóm tắt"}]
    portal.put("/api", json.dumps({"items": items}), content_type="application/json")
    source = {"id": "api", "kind": "json", "url": portal.url("/api"), "mapping": {"title": "ten"}}
    settings = settings_for(sqlite_url, [source])
    storage = open_storage(sqlite_url)
    report = (await poll_once(settings, storage))["api"]
    assert report.failed
    assert "mapping.title = 'ten' matches nothing" in report.errors[0]
    assert "tieude" in report.errors[0]
    assert storage.list_articles() == []
    storage.close()


async def test_flood_is_capped_and_the_rest_arrive_later(portal: PortalServer, db_url: str) -> None:
    """5,000 new items: 50 per poll, one source.flood event, and the rest are not lost even
    though the document (and its ETag) never changes."""
    portal.put("/flood.rss", rss(*((str(i), f"Tin số {i}") for i in range(5000))))
    source = {"id": "flood", "url": portal.url("/flood.rss")}
    settings = settings_for(db_url, [source])
    storage = open_storage(db_url)
    async with open_poller(settings, storage) as poller:
        (first,) = await poller.poll()
        (second,) = await poller.poll()
    assert (first.new, first.deferred) == (50, 4950)
    assert (second.new, second.deferred) == (50, 4900)
    assert second.fetched == 1  # not a 304: the validators were not saved while items wait
    assert storage.count_articles() == 100
    floods = list(storage.audit_events(kinds=["source.flood"]))
    assert len(floods) == 1
    assert floods[0].subject == "flood"
    # A larger cap (or enough polls) brings every remaining item in.
    bigger = settings_for(db_url, [source], poll={"max_new_per_poll": 10_000})
    third = (await poll_once(bigger, storage))["flood"]
    assert (third.new, third.deferred) == (4900, 0)
    assert storage.count_articles() == 5000
    storage.close()


async def test_http_links_keep_their_scheme(portal: PortalServer, db_url: str) -> None:
    """An http-only portal's links stay http (only the comparison form says https)."""
    portal.put("/f.rss", rss(("1", "Tin một"), link_base="http://so.gov.vn/tin/"))
    settings = settings_for(db_url, [{"id": "s", "url": portal.url("/f.rss")}])
    storage = open_storage(db_url)
    await poll_once(settings, storage)
    (article,) = storage.list_articles()
    assert article.url == "http://so.gov.vn/tin/1"
    storage.close()


async def test_nothing_due_logs_at_debug(portal: PortalServer, sqlite_url: str) -> None:
    """A second of the poll loop with nothing due or finished is a debug line, not info."""
    # Another test may have configured logging at info (which drops debug lines before any
    # capture): start from structlog's defaults, which pass every level.
    structlog.reset_defaults()
    portal.put("/f.rss", rss(("1", "Tin một")))
    settings = settings_for(sqlite_url, [{"id": "s", "url": portal.url("/f.rss")}])
    storage = open_storage(sqlite_url)
    poller: Poller
    async with open_poller(settings, storage, clock=lambda: START) as poller:
        reports: list[SourceReport] = []
        while not reports:
            reports = await poller.poll_due()
            await asyncio.sleep(0.05)
        with structlog.testing.capture_logs() as logs:
            assert await poller.poll_due() == []
        await poller.close()
    cycles = [e for e in logs if e["event"] == "poll_cycle"]
    assert [e["log_level"] for e in cycles] == ["debug"]
    storage.close()
