"""Benchmark: a poll cycle over many loopback feeds, against a naive feedparser loop.

Not a test: it prints numbers. Default: 2,000 feeds of 20 items; the first cycle stores every
article, then 5 % of the feeds change and the measured cycle sees the rest answer 304.
    python bench/poll.py [--feeds 2000] [--items 20] [--changed 0.05] [--naive 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import daemon  # noqa: E402
from syndicator.config import parse_config  # noqa: E402
from syndicator.logs import configure_logging  # noqa: E402

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_farm(feeds: int, items: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "feedfarm.py"), str(port), str(feeds), str(items)])
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, base
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("feed farm did not start")


def bump(base: str, fraction: float, offset: int) -> int:
    req = urllib.request.Request(f"{base}/bump?fraction={fraction}&offset={offset}", method="POST")
    with urllib.request.urlopen(req) as resp:
        return int(json.loads(resp.read())["changed"])


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def cycle(settings, storage, ids=None):  # type: ignore[no-untyped-def]
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client)
        cpu0, t0 = time.process_time(), time.perf_counter()
        reports = await poller.poll(ids)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return reports, wall, cpu


def line(label: str, n: int, wall: float, cpu: float, extra: str = "") -> None:
    print(f"{label:<44} {n:>6} feeds  {n / wall:>8.0f} feeds/s  wall {wall:6.2f} s  "
          f"CPU {cpu:6.2f} s  peak RSS {rss_mb():6.1f} MB {extra}")


def naive(base: str, count: int) -> None:
    """The naive loop in its own process, so its RSS is its own."""
    code = (
        "import feedparser,time,resource\n"
        f"urls=['{base}/feed/%d.xml'%i for i in range({count})]\n"
        "c0,t0=time.process_time(),time.perf_counter()\n"
        "n=sum(len(feedparser.parse(u).entries) for u in urls)\n"
        "w,c=time.perf_counter()-t0,time.process_time()-c0\n"
        "print(w,c,resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024,n)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall, cpu, peak, _entries = (float(x) for x in out.stdout.split())
    print(f"{'naive feedparser.parse(url), one at a time':<44} {count:>6} feeds  "
          f"{count / wall:>8.0f} feeds/s  wall {wall:6.2f} s  CPU {cpu:6.2f} s  peak RSS {peak:6.1f} MB")
    return count / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--changed", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--naive", type=int, default=200, help="feeds for the naive loop (it is slow)")
    ap.add_argument("--transports", default="aiohttp,httpx")
    args = ap.parse_args()
    configure_logging("warning", "console")
    proc, base = start_farm(args.feeds, args.items)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sources = [{"id": f"s{i}", "url": f"{base}/feed/{i}.xml", "agency": f"Sở {i}"}
                       for i in range(args.feeds)]
            results = {}
            for n, transport in enumerate(args.transports.split(",")):
                url = f"sqlite:///{tmp}/bench-{transport}.db"
                settings = parse_config({
                    "database": {"url": url}, "sources": sources,
                    "fetch": {"concurrency": args.concurrency, "per_host": args.concurrency,
                              "transport": transport},
                })
                storage = daemon.build_storage(settings)
                print(f"-- transport {transport}, {args.concurrency} in flight")
                reports, wall, cpu = asyncio.run(cycle(settings, storage))
                new = sum(r.new for r in reports)
                line("first cycle (every feed new, parsed, stored)", len(reports), wall, cpu,
                     f" {new} articles")
                changed = bump(base, args.changed, n)
                reports, wall, cpu = asyncio.run(cycle(settings, storage))
                nm = sum(r.not_modified for r in reports)
                line(f"cycle with {changed} changed, {nm} x 304", len(reports), wall, cpu,
                     f" {sum(r.new for r in reports)} new")
                results[transport] = len(reports) / wall
                storage.close()
            rate = naive(base, args.naive)
            best = max(results.values())
            print(f"mostly-304 cycle vs naive loop: {best / rate:.1f}x "
                  + " ".join(f"[{k}: {v:.0f}/s]" for k, v in results.items()))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
