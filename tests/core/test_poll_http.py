"""Polling over real HTTP against the stand-in portal: every fixture, 304s, faults, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator.config import parse_config
from syndicator.sandbox.portal import PortalServer
from syndicator.storage import Storage, open_storage
from tests.core.engines import ENGINES, open_poller

FEEDS = Path(__file__).parents[1] / "data" / "feeds"
FEED_FILES = sorted(p.name for p in FEEDS.glob("*.xml"))
# Headers the feedparser fixtures declare in their own comments (served as they say).
FIXTURE_HEADERS = {
    "encoding__http_text_xml_charset_overrides_encoding.xml": "text/xml; charset=utf-8",
}


_ENGINE = {"transport": "aiohttp"}  # set per test by the `engine` fixture


@pytest.fixture(autouse=True, params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each test on each feed engine: _settings writes it as `[fetch] transport`."""
    _ENGINE["transport"] = request.param
    return str(request.param)


def _sid(name: str) -> str:
    return name.removesuffix(".xml").lower().replace(".", "-").replace("__", "-")[:60]


def _settings(url: str, sources: list[dict], **extra: dict) -> object:
    return parse_config(
        {
            "database": {"url": url},
            "sources": sources,
            "fetch": {
                "read_timeout": "2s",
                "connect_timeout": "2s",
                "transport": _ENGINE["transport"],
            },
            **extra,
        }
    )


async def _poll(settings, storage: Storage, ids=None, clock=None):  # type: ignore[no-untyped-def]
    kwargs = {"clock": clock} if clock else {}
    async with open_poller(settings, storage, **kwargs) as poller:
        return {r.source_id: r for r in await poller.poll(ids)}


async def test_every_fixture_polls_without_error_escaping(
    portal: PortalServer, db_url: str
) -> None:
    """All shared fixtures are fetched, parsed and stored; a second poll parses nothing."""
    sources = []
    for name in FEED_FILES:
        ctype = FIXTURE_HEADERS.get(name, "application/xml")
        portal.put(f"/{name}", (FEEDS / name).read_bytes(), content_type=ctype)
        sources.append({"id": _sid(name), "url": portal.url(f"/{name}"), "agency": "Sở Thử nghiệm"})
    settings = _settings(db_url, sources)
    storage = open_storage(db_url)
    first = await _poll(settings, storage)
    assert len(first) == len(FEED_FILES)
    assert all(r.fetched == 1 for r in first.values())
    # The two VnExpress copies carry the same 24 articles: whichever answers first owns them.
    plain = first[_sid("vnexpress_tin-moi-nhat_2017-11-14.xml")]
    banner = first[_sid("vnexpress_tin-moi-nhat_2017-11-14_with_browser_banner.xml")]
    assert plain.new + banner.new == 24 and plain.duplicate + banner.duplicate == 24
    assert first[_sid("vnexpress_the-gioi_2025-02-06_2golang.xml")].new > 0
    dup = first[_sid("gov_feed_utf8_nfc_nfd_duplicate.xml")]
    # Same article as NFC and NFD (+ a utm_ variant): at most one new, the rest duplicates
    # (another fixture may already carry it, depending on which feed answered first).
    assert dup.new <= 1 and dup.duplicate >= 1 and dup.new + dup.duplicate >= 2
    articles = storage.list_articles()
    assert all(a.published_at is None or a.published_at.tzinfo is not None for a in articles)
    assert any("tcvn3" in a.flags for a in articles)

    second = await _poll(settings, storage)
    assert all(r.not_modified == 1 and r.fetched == 0 for r in second.values())
    assert sum(r.new for r in second.values()) == 0
    assert storage.verify_audit().ok
    storage.close()


async def test_unchanged_body_without_validators_is_not_parsed(
    portal: PortalServer, sqlite_url: str
) -> None:
    """A portal that ignores conditional GET still costs no parsing when the body is the same."""
    portal.validators = False
    name = "gov_feed_utf8_nfd.xml"
    portal.put("/a.xml", (FEEDS / name).read_bytes())
    settings = _settings(sqlite_url, [{"id": "a", "url": portal.url("/a.xml")}])
    storage = open_storage(sqlite_url)
    assert (await _poll(settings, storage))["a"].fetched == 1
    again = (await _poll(settings, storage))["a"]
    assert again.not_modified == 1 and again.fetched == 0
    assert portal.not_modified == {}
    storage.close()


async def test_failures_are_per_source_and_back_off(portal: PortalServer, sqlite_url: str) -> None:
    """A 503, a timeout and a truncated feed are recorded; the healthy source is unaffected."""
    good = (FEEDS / "gov_feed_utf8_nfd.xml").read_bytes()
    for path in ("/ok.xml", "/down.xml", "/slow.xml", "/cut.xml"):
        portal.put(
            path,
            good
            if path != "/cut.xml"
            else (FEEDS / "vnexpress_tin-moi-nhat_2017-11-14.xml").read_bytes(),
        )
    portal.add_fault("status", scope="/down.xml", status=503, retry_after=7200)
    portal.add_fault("slow", scope="/slow.xml", delay=5)
    portal.add_fault("truncate", scope="/cut.xml")
    settings = _settings(
        sqlite_url,
        [
            {"id": s, "url": portal.url(f"/{s}.xml"), "interval": "5m"}
            for s in ("ok", "down", "slow", "cut")
        ],
    )
    storage = open_storage(sqlite_url)
    now = datetime.now(UTC)
    reports = await _poll(settings, storage, clock=lambda: now)
    assert reports["ok"].new > 0 and not reports["ok"].errors
    assert "503" in reports["down"].errors[0]
    assert "timeout" in reports["slow"].errors[0].lower()
    assert reports["cut"].new > 0 and any("parse" in e for e in reports["cut"].errors)
    states = storage.source_states()
    assert states["down"].error_count == 1
    # Retry-After (2 h) is a lower bound on the next check, beyond the 2x5 min backoff.
    assert states["down"].next_check_at is not None
    assert states["down"].next_check_at >= now + timedelta(hours=2)
    assert states["ok"].next_check_at is not None
    assert now + timedelta(minutes=5) <= states["ok"].next_check_at <= now + timedelta(minutes=5.6)
    storage.close()


async def test_unhealthy_source_records_one_event(portal: PortalServer, sqlite_url: str) -> None:
    """Crossing the error threshold writes exactly one source.unhealthy audit event."""
    settings = _settings(
        sqlite_url, [{"id": "gone", "url": portal.url("/missing.xml")}], poll={"unhealthy_after": 2}
    )
    storage = open_storage(sqlite_url)
    for _ in range(4):
        assert "404" in (await _poll(settings, storage))["gone"].errors[0]
    kinds = [e.kind for e in storage.audit_events()]
    assert kinds.count("source.unhealthy") == 1
    assert storage.source_state("gone").status == "unhealthy"  # type: ignore[union-attr]
    storage.close()


async def test_json_source_and_cross_source_duplicate(portal: PortalServer, db_url: str) -> None:
    """A JSON API is read through its mapping; the portal's re-post of it is a duplicate."""
    doc = {
        "data": {
            "items": [
                {
                    "id": 17,
                    "title": "Thông báo mời thầu gói thầu số 3",
                    "url": "https://stc.gov.vn/tin/17?utm_source=zalo",
                    "summary": "<p>Sở Tài chính thông báo &amp; mời thầu</p>",
                    "published_at": "14/11/2025 08:30",
                    "category": "Đấu thầu",
                    "image": "/img/17.jpg",
                },
            ]
        }
    }
    portal.put(
        "/api/articles", json.dumps(doc, ensure_ascii=False), content_type="application/json"
    )
    rss = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Cổng</title>'
        "<item><title>Thông báo mời thầu gói thầu số 3</title><link>http://STC.gov.vn/tin/17</link>"
        "<guid>portal-99</guid><description>Sở Tài chính thông báo mời thầu</description></item>"
        "</channel></rss>"
    )
    portal.put("/rss.xml", rss)
    settings = _settings(
        db_url,
        [
            {
                "id": "so-tc",
                "kind": "json",
                "url": portal.url("/api/articles"),
                "agency": "Sở Tài chính",
                "mapping": {"items": "data.items"},
            },
            {"id": "portal", "url": portal.url("/rss.xml"), "agency": "UBND tỉnh"},
        ],
    )
    storage = open_storage(db_url)
    await _poll(settings, storage, ["so-tc"])
    await _poll(settings, storage, ["portal"])
    first, second = storage.list_articles()
    assert first.source_id == "so-tc" and first.canonical_url == "https://stc.gov.vn/tin/17"
    assert first.published_at == datetime(2025, 11, 14, 1, 30, tzinfo=UTC)
    assert "dau_thau_mua_sam" in first.categories
    assert first.image_url == portal.url("/img/17.jpg")
    assert second.duplicate_of == first.id
    storage.close()
