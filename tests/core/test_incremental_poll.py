"""A long-running poller parses only changed items, and still sees every new and edited one."""

from __future__ import annotations

from typing import Any

import pytest

import daemon
from syndicator.config import parse_config
from syndicator.sandbox.portal import PortalServer


def feed(*items: tuple[str, str]) -> str:
    body = "".join(
        f"<item><title>{t}</title><link>https://so.gov.vn/tin/{g}</link><guid>{g}</guid>"
        f"<description>Nội dung {t}</description></item>"
        for g, t in items
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>S</title>{body}</channel></rss>'


async def another_daemon_edits_item_2(portal: PortalServer, db_url: str, storage: Any) -> Any:
    """Another daemon, reading source "s" at another URL, stores its own version of item 2."""
    other = parse_config(
        {"database": {"url": db_url}, "sources": [{"id": "s", "url": portal.url("/g.xml")}]}
    )
    portal.put("/g.xml", feed(("2", "Tin hai (bản khác)")))
    async with daemon.build_http_client(other) as client:
        (report,) = await daemon.build_poller(other, storage, client).poll()
    return report


async def test_new_edited_and_tampered_items_are_seen(
    portal: PortalServer, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New items are new, an edited item is changed, another writer's change is noticed."""
    from tests.core.test_restart_memory import Spy

    spy = Spy(monkeypatch)
    portal.put("/f.xml", feed(("1", "Tin một"), ("2", "Tin hai")))
    settings = parse_config(
        {"database": {"url": sqlite_url}, "sources": [{"id": "s", "url": portal.url("/f.xml")}]}
    )
    storage = daemon.build_storage(settings)
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client)
        (r,) = await poller.poll()
        assert r.new == 2
        portal.put("/f.xml", feed(("3", "Tin ba"), ("1", "Tin một"), ("2", "Tin hai")))
        (r,) = await poller.poll()
        assert (r.new, r.changed) == (1, 0)
        portal.put("/f.xml", feed(("3", "Tin ba"), ("1", "Tin một (đã sửa)"), ("2", "Tin hai")))
        (r,) = await poller.poll()
        assert (r.new, r.changed) == (0, 1)
        # Another daemon stores a different version of item 2: this poller's memory is stale,
        # so the next changed document is parsed whole and item 2 is seen as changed back.
        assert (await another_daemon_edits_item_2(portal, sqlite_url, storage)).changed == 1
        portal.put(
            "/f.xml",
            feed(("4", "Tin bốn"), ("3", "Tin ba"), ("1", "Tin một (đã sửa)"), ("2", "Tin hai")),
        )
        spy.reset()
        (r,) = await poller.poll()
        assert (r.new, r.changed) == (1, 1)
        assert spy.parsed[-1] == 4  # parsed whole in the end (test_poller_holds_no_memory:
        # a held memory is trimmed against first, and its stale stamp seen before storing)
    titles = sorted(a.title for a in storage.list_articles())
    assert titles == ["Tin ba", "Tin bốn", "Tin hai", "Tin một (đã sửa)"]
    assert storage.verify_audit().ok
    storage.close()
