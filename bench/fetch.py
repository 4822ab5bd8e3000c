"""Micro-benchmark: CPU per conditional GET answered 304, per feed engine, side by side.

Not a test: it prints numbers. The steady state of `syndicator run` is mostly 304s, so this is
the fetch path's own cost, without parsing or storage (bench/daemon.py measures the daemon):
- `Fetcher` + httpx client, aiohttp transport (httpx_aiohttp): the fetch path before s7;
- `Fetcher` + httpx client, httpx's own transport (`[fetch] transport = "httpx"`);
- `Fetcher` + FeedSessions: aiohttp directly (the daemon's default since s7);
- a plain aiohttp session, no Fetcher: the floor.
The engines take turns within each round (a noisy shared machine hits them alike). CPU is
this process's (`time.process_time`); `bench/feedfarm.py` serves from another process.
    python bench/fetch.py [--feeds 2000] [--rounds 3] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from syndicator.sources.feed_session import FeedSessions  # noqa: E402
from syndicator.sources.fetch import Fetcher, build_client  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"feed farm not listening on {port}")


async def run(args: argparse.Namespace, port: int) -> None:
    urls = [f"http://127.0.0.1:{port}/feed/{i}.xml" for i in range(args.feeds)]
    opts = {"user_agent": "bench", "connect_timeout": 5.0, "read_timeout": 10.0}
    n = args.concurrency
    fetchers = {
        "Fetcher, httpx + httpx_aiohttp (before)": Fetcher(
            build_client(**opts, transport="aiohttp"), concurrency=n, per_host=n
        ),
        "Fetcher, httpx transport": Fetcher(
            build_client(**opts, transport="httpx"), concurrency=n, per_host=n
        ),
        "Fetcher, aiohttp directly (after)": Fetcher(
            build_client(**opts, transport="httpx"),
            engine=FeedSessions(**opts, max_connections=n),
            concurrency=n,
            per_host=n,
        ),
    }
    first = await asyncio.gather(*(next(iter(fetchers.values())).fetch(u) for u in urls))
    etags = {r.url: r.etag for r in first}
    assert all(etags.values()), first[0]

    plain = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=n))
    gate = asyncio.Semaphore(n)

    async def plain_one(url: str) -> bool:
        async with gate, plain.get(url, headers={"If-None-Match": etags[url]}) as r:
            await r.read()
            return r.status == 304

    async def through(fetcher: Fetcher) -> list[bool]:
        results = await asyncio.gather(*(fetcher.fetch(u, etag=etags[u]) for u in urls))
        return [r.not_modified for r in results]

    runs: dict[str, Callable[[], Awaitable[list[bool]]]] = {
        name: (lambda f=f: through(f)) for name, f in fetchers.items()
    }
    runs["plain aiohttp session (floor)"] = lambda: asyncio.gather(*(plain_one(u) for u in urls))
    for name, go in runs.items():  # warm-up: connections open, caches filled
        assert all(await go()), name
    print(f"load average {os.getloadavg()[0]:.2f}; {args.feeds} conditional GETs, {n} in flight")
    for round_ in range(1, args.rounds + 1):
        for name, go in runs.items():
            c0, w0 = time.process_time(), time.perf_counter()
            ok = await go()
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            assert all(ok), f"{name}: not every answer was a 304"
            per = 1e3 * cpu / args.feeds
            print(
                f"round {round_}  {name:42s} {per:.3f} ms CPU per 304  {args.feeds / wall:6.0f}/s"
            )
    print(f"load average {os.getloadavg()[0]:.2f}")
    await plain.close()
    for fetcher in fetchers.values():
        await fetcher.client.aclose()
        if fetcher.engine is not None:
            await fetcher.engine.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=50)
    args = ap.parse_args()
    port = free_port()
    farm = subprocess.Popen(
        [sys.executable, str(HERE / "feedfarm.py"), str(port), str(args.feeds), "20"]
    )
    try:
        wait_port(port)
        asyncio.run(run(args, port))
    finally:
        farm.terminate()
        farm.wait(10)


if __name__ == "__main__":
    main()
