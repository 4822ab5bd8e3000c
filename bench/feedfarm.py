"""A loopback server of many generated Vietnamese feeds, for the benchmarks (not a test).

Run as a separate process so it does not share the client's event loop:
    python bench/feedfarm.py PORT N_FEEDS ITEMS [GRAPH_PORT]
GET /feed/{i}.xml serves feed i with an ETag (304 on If-None-Match); POST /bump?fraction=0.05
changes that fraction of feeds (one new item each), as a portal day does. The first ITEMS
items are dated November 2025 (older than `publishing.max_article_age`, so a first poll plans
no posts for them, as a new source's backlog); an item added by a bump is dated at the bump, so
it becomes a post waiting for approval. With GRAPH_PORT, the project's Graph API stand-in
(`syndicator.sandbox.graph`) is served from this process too, for `bench/daemon.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from aiohttp import web

WORDS = [
    "Ủy",
    "ban",
    "nhân",
    "dân",
    "tỉnh",
    "triển",
    "khai",
    "kế",
    "hoạch",
    "phát",
    "triển",
    "kinh",
    "tế",
    "xã",
    "hội",
    "năm",
    "2025",
    "hướng",
    "dẫn",
    "thủ",
    "tục",
    "hành",
    "chính",
    "dịch",
    "vụ",
    "công",
    "trực",
    "tuyến",
    "đấu",
    "thầu",
    "mua",
    "sắm",
    "công",
    "hỗ",
    "trợ",
    "doanh",
    "nghiệp",
    "phòng",
    "chống",
    "thiên",
    "tai",
    "bão",
    "lũ",
    "quy",
    "hoạch",
    "sử",
    "dụng",
    "đất",
    "chuyển",
    "đổi",
    "số",
    "người",
    "dân",
]


def item(feed: int, n: int, when: datetime | None = None) -> str:
    words = " ".join(WORDS[(feed + n + k) % len(WORDS)] for k in range(60))
    when = when or datetime(2025, 11, 14, tzinfo=UTC) + timedelta(minutes=n)
    return (
        f"<item><title>Tin {feed}-{n}: {' '.join(words.split()[:12])}</title>"
        f"<link>https://so{feed % 40}.example.gov.vn/tin/{feed}/{n}</link>"
        f"<guid>so{feed}-{n}</guid><pubDate>{format_datetime(when)}</pubDate>"
        f"<description><![CDATA[<p>{words}</p>]]></description></item>"
    )


class Farm:
    def __init__(self, feeds: int, items: int) -> None:
        self.items = items
        self.version = [0] * feeds
        self.cache: dict[int, tuple[bytes, str]] = {}
        self.born: dict[tuple[int, int], datetime] = {}  # items added by a bump: their date

    def body(self, i: int) -> tuple[bytes, str]:
        cached = self.cache.get(i)
        if cached is None:
            top = self.items + self.version[i]
            entries = "".join(
                item(i, n, self.born.get((i, n))) for n in range(top - 1, top - 1 - self.items, -1)
            )
            xml = (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Sở {i}</title><link>https://so{i}.example.gov.vn/</link>{entries}"
                "</channel></rss>"
            ).encode()
            cached = (xml, '"' + hashlib.md5(xml).hexdigest() + '"')
            self.cache[i] = cached
        return cached

    async def feed(self, request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        body, etag = self.body(i)
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml"}
        )

    async def bump(self, request: web.Request) -> web.Response:
        fraction = float(request.query.get("fraction", "0.05"))
        step = max(1, round(1 / fraction)) if fraction > 0 else 0
        changed = 0
        if step:
            offset = int(request.query.get("offset", "0"))
            now = datetime.now(UTC)
            for i in range(offset % step, len(self.version), step):
                self.version[i] += 1
                self.born[(i, self.items + self.version[i] - 1)] = now
                self.cache.pop(i, None)
                changed += 1
        return web.json_response({"changed": changed})


async def serve(port: int, feeds: int, items: int, graph_port: int | None) -> None:
    farm = Farm(feeds, items)
    app = web.Application()
    app.router.add_get("/feed/{i}.xml", farm.feed)
    app.router.add_post("/bump", farm.bump)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    if graph_port is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from syndicator.sandbox.graph import GraphServer

        # The sandbox's own page and token (syndicator/sandbox/world.py).
        await GraphServer({"1000000001": ["PAGE_TOKEN"]}, port=graph_port).start()
    await asyncio.Event().wait()  # until terminated


def main() -> None:
    port, feeds, items = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    graph_port = int(sys.argv[4]) if len(sys.argv) > 4 else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(port, feeds, items, graph_port))


if __name__ == "__main__":
    main()
