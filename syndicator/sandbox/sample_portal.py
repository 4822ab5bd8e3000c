"""A sample provincial portal for the demo and training: feeds that gain articles over time.

Articles come from sandbox/data/demo_articles.json; `release()` publishes the next one on its
source's feed (RSS 2.0, Asia/Ho_Chi_Minh times without a zone, as many portals write them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from syndicator.sandbox.portal import PortalServer

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
DATA = Path(__file__).with_name("data") / "demo_articles.json"
# A 1x1 JPEG, so image URLs in the sample feeds resolve.
PIXEL = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b"
    "0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e3334"
    "32ffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708"
    "090a0bffc400b5100002010303020403050504040000017d0102030004110512213141061351610722711432"
    "8191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a"
    "535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4"
    "a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1"
    "f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9"
)


def load_sample() -> dict[str, Any]:
    try:
        text = (
            resources.files("syndicator.sandbox")
            .joinpath("data/demo_articles.json")
            .read_text("utf-8")
        )
    except (FileNotFoundError, ModuleNotFoundError, TypeError):
        text = DATA.read_text(encoding="utf-8")
    return json.loads(text)


@dataclass
class SamplePortal:
    """Feeds per source; each `release()` adds the next sample article to its feed."""

    server: PortalServer
    data: dict[str, Any] = field(default_factory=load_sample)
    released: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sources(self) -> list[dict[str, Any]]:
        return list(self.data["sources"])

    @property
    def remaining(self) -> int:
        return len(self.data["articles"]) - len(self.released)

    def feed_url(self, source_id: str) -> str:
        path = next(s["path"] for s in self.sources if s["id"] == source_id)
        return self.server.url(path)

    def publish_all_feeds(self) -> None:
        for source in self.sources:
            self.server.put(source["path"], self._rss(source))
        self.server.put("/img/lu-2025.jpg", PIXEL, content_type="image/jpeg")

    def release(self, now: datetime) -> dict[str, Any] | None:
        """Put the next article on its feed; None when all are out."""
        if not self.remaining:
            return None
        article = dict(self.data["articles"][len(self.released)])
        article["published"] = now.astimezone(LOCAL)
        self.released.append(article)
        self.publish_all_feeds()
        return article

    def _rss(self, source: dict[str, Any]) -> str:
        items = []
        for art in reversed(self.released):
            if art["source"] != source["id"]:
                continue
            link = self.server.url(f"/{source['id']}/tin/{art['slug']}.html")
            when: datetime = art["published"]
            image = art.get("image")
            enclosure = (
                f'<enclosure url="{escape(self.server.url(image))}" type="image/jpeg" length="0"/>'
                if image else ""
            )  # fmt: skip
            items.append(
                f"<item><title>{escape(art['title'])}</title><link>{escape(link)}</link>"
                f'<guid isPermaLink="false">{source["id"]}-{art["slug"]}</guid>'
                f"<category>{escape(art['category'])}</category>"
                f"<pubDate>{when.strftime('%d/%m/%Y %H:%M')}</pubDate>"
                f"<description>{escape(art['summary'])}</description>"
                f"<content:encoded><![CDATA[{art['content']}]]></content:encoded>{enclosure}</item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
            f"<channel><title>{escape(source['name'])}</title>"
            f"<link>{escape(self.server.url('/'))}</link>{''.join(items)}</channel></rss>"
        )
