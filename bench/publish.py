"""Benchmark: approval → live latency and posts/s against the Graph and Zalo stand-ins.

Not a test: it prints numbers. N articles are stored, their posts planned (pending), then all
approved at once; the publisher runs until every post is live. Latency is measured from each
post's approval (decided_at) to its publication (published_at), excluding configured pacing
(none is configured here; pause_between = 0).
    python bench/publish.py [--posts 300] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

import daemon
from syndicator.config import parse_config
from syndicator.logs import configure_logging
from syndicator.sandbox import GraphServer, ZaloServer
from syndicator.storage import open_storage
from syndicator.types import Article, PostStatus


def article(i: int) -> Article:
    return Article(
        source_id="portal", guid=f"g{i}", url=f"https://portal.example.gov.vn/tin/{i}",
        canonical_url=f"https://portal.example.gov.vn/tin/{i}",
        title=f"Thông báo số {i} của Ủy ban nhân dân tỉnh về lịch tiếp công dân",
        summary="Chủ tịch UBND tỉnh tiếp công dân định kỳ tại Trụ sở Tiếp công dân tỉnh.",
        content_html="<p>Nội dung chi tiết.</p>", content_text="Nội dung chi tiết.",
        image_url=None, published_at=datetime.now(UTC) - timedelta(minutes=1),
        agency="UBND tỉnh", categories=("tin_tuc",), content_hash=f"h{i}", fingerprint=f"f{i}",
    )  # fmt: skip


async def main(count: int, url: str) -> None:
    graph, zalo = GraphServer(usage_headers=False), ZaloServer(verify_pending_calls=0)
    await graph.start()
    await zalo.start()
    settings = parse_config({
        "database": {"url": url},
        "approval": {"mode": "manual"},
        "publishing": {"interval": "0.2s", "pause_between": "0s", "reconcile_delay": "1s"},
        "channels": {
            "facebook": {"kind": "facebook_page", "page_id": "1000000001",
                         "access_token": "PAGE_TOKEN", "api_base": graph.base_url},
            "zalo": {"kind": "zalo_oa", "app_id": zalo.app_id, "secret_key": zalo.secret_key,
                     "refresh_token": zalo.refresh_token, "api_base": zalo.api_base,
                     "oauth_base": zalo.oauth_base, "author": "Cổng TTĐT tỉnh",
                     "default_cover_url": "https://portal.example.gov.vn/cover.jpg",
                     "verify_delay": "0.05s"},
        },
    })  # fmt: skip
    storage = open_storage(url)
    storage.add_articles("portal", [replace(article(i)) for i in range(count)], datetime.now(UTC))
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=20)) as client:
        channels = daemon.build_channels(settings, storage, client)
        publisher = daemon.build_publisher(settings, storage, channels)
        publisher.plan()
        ids = [p.id for p in storage.list_posts(status=[PostStatus.PENDING])]
        cpu0, t0 = time.process_time(), time.perf_counter()
        storage.decide(ids, PostStatus.APPROVED, actor="bench", now=datetime.now(UTC))
        while storage.list_posts(status=[PostStatus.APPROVED, PostStatus.PUBLISHING], limit=1):
            await publisher.run_once()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    posts = storage.list_posts()
    latencies = sorted(
        (p.published_at - p.decided_at).total_seconds()
        for p in posts
        if p.published_at and p.decided_at
    )
    per_channel = {
        c: sum(1 for p in posts if p.channel == c and p.status == PostStatus.PUBLISHED)
        for c in ("facebook", "zalo")
    }
    q = statistics.quantiles(latencies, n=20)
    print(
        f"posts published: {len(latencies)} ({per_channel}); duplicates on Graph: "
        f"{len(graph.live_posts()) - per_channel['facebook']}, on Zalo: "
        f"{len(zalo.live_articles()) - per_channel['zalo']}"
    )
    print(
        f"throughput: {len(latencies) / wall:.1f} posts/s  (wall {wall:.2f} s, CPU {cpu:.2f} s, "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
    )
    print(
        "approval → live latency when everything is approved at once (queueing included): "
        f"p50 {statistics.median(latencies):.3f} s, p95 {q[18]:.3f} s, max {latencies[-1]:.3f} s"
    )
    # One post approved on its own, the everyday case: the time the publisher itself adds.
    single = []
    for i in range(20):
        storage.add_articles("portal", [article(10_000 + i)], datetime.now(UTC))
        async with httpx.AsyncClient() as client:
            channels = daemon.build_channels(settings, storage, client)
            publisher = daemon.build_publisher(settings, storage, channels)
            publisher.plan()
            pending = [p.id for p in storage.list_posts(status=[PostStatus.PENDING])]
            storage.decide(pending, PostStatus.APPROVED, actor="bench", now=datetime.now(UTC))
            await publisher.run_once()
        for p in storage.list_posts(article_id=count + i + 1):
            if p.published_at and p.decided_at:
                single.append((p.published_at - p.decided_at).total_seconds())
    single.sort()
    qs = statistics.quantiles(single, n=20)
    print(
        f"one approval at a time ({len(single)} posts): p50 {statistics.median(single):.3f} s, "
        f"p95 {qs[18]:.3f} s (target p95 ≤ 1 s)"
    )
    storage.close()
    await graph.stop()
    await zalo.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--posts", type=int, default=300, help="articles (each makes 2 posts)")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args()
    configure_logging("error", "console")
    with tempfile.TemporaryDirectory() as tmp:
        db = (
            os.environ.get("SYNDICATOR_TEST_PG_URL", "")
            if args.backend == "postgres"
            else f"sqlite:///{tmp}/bench.db"
        )
        if not db:
            sys.exit("--backend postgres needs SYNDICATOR_TEST_PG_URL")
        asyncio.run(main(args.posts // 2 if args.posts > 1 else 1, db))
