"""Benchmark: ingesting new entries into SQLite through the real code path (not a test).

Two measurements, each on a fresh database and in its own process (so peak RSS is its own):
- store: already normalised and classified Articles -> Storage.add_articles, one call per feed
  (batches of --items), i.e. the storage cost alone, audit rows included;
- full: feed bytes -> Poller._ingest (parse, normalise, classify, store), as a poll cycle does
  for every changed feed.
    python bench/ingest.py [--entries 20000] [--items 20] [--only store|full]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from feedfarm import Farm


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it is not inherited over fork+exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(mode: str, entries: int, items: int) -> None:
    import daemon
    from syndicator.config import parse_config
    from syndicator.logs import configure_logging
    from syndicator.sources.classify import classify
    from syndicator.sources.fetch import FetchResult
    from syndicator.sources.normalise import normalise
    from syndicator.sources.rss import parse_feed

    configure_logging("warning", "console")
    feeds = entries // items
    farm = Farm(feeds, items)
    bodies = [farm.body(i)[0] for i in range(feeds)]
    del farm
    now = datetime(2025, 11, 15, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        sources = [
            {"id": f"s{i}", "url": f"https://so{i}.example.gov.vn/rss", "agency": f"Sở {i}"}
            for i in range(feeds)
        ]
        settings = parse_config(
            {"database": {"url": f"sqlite:///{tmp}/ingest.db"}, "sources": sources}
        )
        storage = daemon.build_storage(settings)
        poller = daemon.build_poller(settings, storage, client=None)  # type: ignore[arg-type]
        if mode == "store":
            batches = []
            for i, body in enumerate(bodies):
                source = poller.sources[f"s{i}"]
                parsed = parse_feed(body, {}, source.url)
                batch = []
                for entry in parsed.entries:
                    article = normalise(
                        entry,
                        source_id=source.id,
                        agency=source.agency_name,
                        feed_url=source.url,
                        now=now,
                        markers=poller.rules.secrecy_markers,
                    )
                    assert article is not None
                    batch.append(classify(article, poller.rules))
                batches.append((source.id, batch))
            del bodies
            cpu0, t0 = time.process_time(), time.perf_counter()
            new = sum(len(storage.add_articles(sid, batch, now).new) for sid, batch in batches)
        else:
            from syndicator.poller import SourceReport

            results = [
                (
                    poller.sources[f"s{i}"],
                    FetchResult(f"https://so{i}.example.gov.vn/rss", status=200, body=body),
                )
                for i, body in enumerate(bodies)
            ]
            del bodies
            cpu0, t0 = time.process_time(), time.perf_counter()
            new = 0
            for source, result in results:
                report = SourceReport(source.id)
                poller._ingest(source, result, now, report)
                new += report.new
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        assert new == feeds * items, (new, feeds * items)
        storage.close()
    label = {
        "store": "add_articles (normalised Articles, per feed)",
        "full": "parse -> normalise -> classify -> store",
    }[mode]
    print(
        f"{label:<46} {new:>6} new  {new / wall:>7.0f} entries/s  wall {wall:6.2f} s  "
        f"CPU {cpu:6.2f} s  peak RSS {peak_rss_mb():6.1f} MB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--entries", type=int, default=20000)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--only", choices=("store", "full"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run(args.only, args.entries, args.items)
        return
    for mode in [args.only] if args.only else ["store", "full"]:
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "--only",
                mode,
                "--entries",
                str(args.entries),
                "--items",
                str(args.items),
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
