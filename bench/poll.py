"""Benchmark: a poll cycle over many loopback feeds, against a naive feedparser loop.

Not a test: it prints numbers. Default: 2,000 feeds of 20 items; the first cycle stores every
article, then 5 % of the feeds change and the measured cycle sees the rest answer 304.
Per transport, in child processes so each peak RSS is its own (VmHWM, reset per cycle):
- "same poller": the first cycle, then the mostly-304 cycle with the same client and poller,
  as the daemon runs;
- "fresh poller": a new process on the same database (a restarted daemon), another 5 % bump.
    python bench/poll.py [--feeds 2000] [--items 20] [--changed 0.05] [--naive 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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

import daemon
from syndicator.config import parse_config
from syndicator.logs import configure_logging

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_farm(feeds: int, items: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "feedfarm.py"), str(port), str(feeds), str(items)]
    )
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


def peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM; ru_maxrss would carry the parent's over fork+exec)."""
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Start a new peak from the current RSS (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


async def cycles(
    settings,
    storage,
    base: str,
    changed: float,
    offset: int,
    warm: bool,  # type: ignore[no-untyped-def]
    processes: int,
):
    """As the daemon runs: one client, one poller; the first cycle, then a mostly-304 one."""
    async with daemon.build_http_client(settings) as client:
        poller = daemon.build_poller(settings, storage, client, parse_processes=processes)
        if warm:
            reset_peak_rss()
            cpu0, t0 = time.process_time(), time.perf_counter()
            reports = await poller.poll()
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            line(
                "first cycle (every feed new, parsed, stored)",
                len(reports),
                wall,
                cpu,
                f" {sum(r.new for r in reports)} new",
            )
        daemon.settle_heap()  # as the daemon does after its first cycle
        n = bump(base, changed, offset)
        reset_peak_rss()
        cpu0, t0 = time.process_time(), time.perf_counter()
        reports = await poller.poll()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        label = f"{n} changed + {sum(r.not_modified for r in reports)} x 304, " + (
            "same poller" if warm else "fresh poller"
        )
        line(label, len(reports), wall, cpu, f" {sum(r.new for r in reports)} new")
        workers = poller.workers.pids()
        if workers:
            peaks = [_hwm(pid) for pid in workers]
            print(
                f"{'  parse worker process(es), peak RSS':<44} "
                + ", ".join(f"{p:.1f} MB" for p in peaks),
                flush=True,
            )
        return len(reports) / wall


def _hwm(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1]) / 1024
    return 0.0


def line(label: str, n: int, wall: float, cpu: float, extra: str = "") -> None:
    print(
        f"{label:<44} {n:>6} feeds  {n / wall:>8.0f} feeds/s  wall {wall:6.2f} s  "
        f"CPU {cpu:6.2f} s  peak RSS {peak_rss_mb():6.1f} MB{extra}",
        flush=True,
    )


def naive(base: str, count: int) -> float:
    """The naive loop in its own process, so its RSS is its own."""
    code = (
        "import feedparser,time\n"
        f"urls=['{base}/feed/%d.xml'%i for i in range({count})]\n"
        "c0,t0=time.process_time(),time.perf_counter()\n"
        "n=sum(len(feedparser.parse(u).entries) for u in urls)\n"
        "w,c=time.perf_counter()-t0,time.process_time()-c0\n"
        "hwm=[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(w,c,int(hwm)/1024,n)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall, cpu, peak, _entries = (float(x) for x in out.stdout.split())
    print(
        f"{'naive feedparser.parse(url), one at a time':<44} {count:>6} feeds  "
        f"{count / wall:>8.0f} feeds/s  wall {wall:6.2f} s  CPU {cpu:6.2f} s  "
        f"peak RSS {peak:6.1f} MB",
        flush=True,
    )
    return count / wall


def child(args: argparse.Namespace) -> None:
    """One variant: a fresh process (its RSS is its own) on the database given."""
    configure_logging("warning", "console")
    sources = [
        {"id": f"s{i}", "url": f"{args.base}/feed/{i}.xml", "agency": f"Sở {i}"}
        for i in range(args.feeds)
    ]
    settings = parse_config(
        {
            "database": {"url": f"sqlite:///{args.db}"},
            "sources": sources,
            "fetch": {
                "concurrency": args.concurrency,
                "per_host": args.concurrency,
                "transport": args.transport,
            },
        }
    )
    storage = daemon.build_storage(settings)
    rate = asyncio.run(
        cycles(
            settings,
            storage,
            args.base,
            args.changed,
            args.offset,
            warm=args.phase == "warm",
            processes=args.parse_processes,
        )
    )
    storage.close()
    print(f"RATE {rate}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--feeds", type=int, default=2000)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--changed", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument(
        "--parse-processes",
        type=int,
        default=0,
        help="worker processes parsing changed feeds (0: threads)",
    )
    ap.add_argument("--naive", type=int, default=200, help="feeds for the naive loop (it is slow)")
    ap.add_argument("--transports", default="aiohttp,httpx")
    ap.add_argument("--no-restart", action="store_true", help="skip the fresh-poller cycle")
    for name in ("base", "db", "transport", "phase"):
        ap.add_argument(f"--{name}", help=argparse.SUPPRESS)
    ap.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        child(args)
        return
    proc, base = start_farm(args.feeds, args.items)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = {}
            offset = 0
            for transport in args.transports.split(","):
                print(
                    f"-- transport {transport}, {args.concurrency} in flight, "
                    f"{args.parse_processes} parse processes",
                    flush=True,
                )
                phases = ["warm"] if args.no_restart else ["warm", "cold"]
                for phase in phases:
                    out = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--phase",
                            phase,
                            "--base",
                            base,
                            "--db",
                            f"{tmp}/bench-{transport}.db",
                            "--transport",
                            transport,
                            "--feeds",
                            str(args.feeds),
                            "--changed",
                            str(args.changed),
                            "--concurrency",
                            str(args.concurrency),
                            "--offset",
                            str(offset),
                            "--parse-processes",
                            str(args.parse_processes),
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    offset += 1
                    for row in out.stdout.splitlines():
                        if row.startswith("RATE "):
                            results[f"{transport}/{phase}"] = float(row.split()[1])
                        else:
                            print(row, flush=True)
            rate = naive(base, min(args.naive, args.feeds))  # only feeds the farm serves
            best = max(v for k, v in results.items() if k.endswith("/warm"))
            print(
                f"mostly-304 cycle vs naive loop: {best / rate:.1f}x "
                + " ".join(f"[{k}: {v:.0f}/s]" for k, v in results.items())
            )
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
