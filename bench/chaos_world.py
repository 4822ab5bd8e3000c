"""The stand-ins of bench/chaos.py, run in a helper process of their own (like bench/feedfarm.py).

`python bench/chaos_world.py DB_URL SOURCES` prints one JSON line (the daemons' config and the
stand-ins' base URLs), then serves until terminated. Faults go through each stand-in's
`/_sandbox/faults` route; the portal adds a request log with times (`fetches` in its state)
and a `grow` control route that puts new articles, dated now, on the feeds.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syndicator.sandbox.portal import PortalServer
from syndicator.sandbox.sample_portal import SamplePortal
from syndicator.sandbox.world import SandboxWorld

INTERVAL = 10  # seconds between polls of one source (the config's minimum)
MARK = "chaos-"  # every title carries [chaos-NNNN]: finds an article on either stand-in


class ChaosPortal(PortalServer):
    """The portal stand-in plus a request log with times and a `grow` control route."""

    def __init__(self, host: str, port: int, sources: int) -> None:
        super().__init__(host, port)
        self.fetches: list[tuple[float, str]] = []
        self.feeds: list[list[str]] = [[] for _ in range(sources)]
        self.released = 0

    async def _serve(self, request: Any) -> Any:
        if request.path.startswith("/chaos/"):
            self.fetches.append((time.time(), request.path))
        return await super()._serve(request)

    def grow(self, count: int = 1) -> int:
        """Put `count` new articles, dated now, on the feeds in turn; return how many exist."""
        now = datetime.now(UTC)
        for _ in range(count):
            n, feed = self.released, self.released % len(self.feeds)
            self.released += 1
            self.feeds[feed].insert(
                0,
                f"<item><title>Thông báo số {n} của Sở {feed} [{MARK}{n:04d}]</title>"
                f"<link>{self.url(f'/tin/{n}.html')}</link><guid>{MARK}{n}</guid>"
                f"<pubDate>{format_datetime(now)}</pubDate><description><![CDATA[<p>Ủy ban "
                f"nhân dân tỉnh thông báo nội dung số {n} tới người dân.</p>]]></description>"
                "</item>",
            )
            self.put(f"/chaos/{feed}.rss", self._rss(feed))
            # The page itself: the watcher would read a 404 as a withdrawn article.
            self.put(f"/tin/{n}.html", f"<html><body>Thông báo số {n}</body></html>", "text/html")
        return self.released

    def _rss(self, feed: int) -> str:
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Sở {feed}</title><link>{self.url('/')}</link>"
            + "".join(self.feeds[feed][:30])
            + "</channel></rss>"
        )

    def control_actions(self) -> dict[str, Any]:
        return {**super().control_actions(), "grow": self.grow}

    def state(self) -> dict[str, Any]:
        return {**super().state(), "fetches": self.fetches, "released": self.released}


async def serve(db_url: str, sources: int) -> None:
    """Run the stand-ins; print one JSON line (the config and the base URLs), then serve."""
    world = SandboxWorld()
    world.portal = ChaosPortal(world.host, 0, sources)
    world.sample = SamplePortal(world.portal)  # serves the Zalo default cover image
    await world.start()
    portal = world.portal
    assert isinstance(portal, ChaosPortal)
    for feed in range(sources):
        portal.put(f"/chaos/{feed}.rss", portal._rss(feed))
    config = world.config(db_url, interval=f"{INTERVAL}s")
    config["sources"] = [
        {"id": f"so-{i}", "name": f"Sở {i}", "kind": "rss",
         "url": portal.url(f"/chaos/{i}.rss"), "interval": f"{INTERVAL}s"}
        for i in range(sources)
    ]  # fmt: skip
    # A killed daemon's claims hold its sources for 3 x fetch.deadline (poller.py).
    config["fetch"] = {"deadline": "5s"}
    config["logging"]["level"] = "info"
    config["approval"]["auto_approve"] = [{}]  # every article, both channels
    config["publishing"].update(
        {"interval": "1s", "reconcile_delay": "2s", "pause_between": "0.1s",
         "retry_initial": "1s", "retry_max": "5s"}
    )  # fmt: skip
    for name in ("facebook", "zalo"):
        config["channels"][name]["timeout"] = "3s"  # an accept-then-hang answers in 3 s
    config["channels"]["zalo"]["verify_delay"] = "0.2s"
    urls = {"portal": portal.base_url, "graph": world.graph.base_url,
            "zalo": world.zalo.base_url, "telegram": world.telegram.base_url}  # fmt: skip
    print(json.dumps({"config": config, "urls": urls}), flush=True)
    await asyncio.Event().wait()  # until terminated


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
