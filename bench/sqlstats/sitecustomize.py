"""Per-statement SQL cost inside a benchmarked daemon (bench/daemon.py --sql-stats PATH).

Python imports `sitecustomize` at start-up from PYTHONPATH; the bench puts this folder there
only for that option. Every statement the daemon runs is timed in the thread that runs it:
thread CPU (SQLite does its work in that thread, outside the GIL, so py-spy --gil misses it)
and wall time. SIGUSR1 writes the totals so far to PATH.<n> and starts counting again, so the
bench can cut out exactly the steady window.
"""

from __future__ import annotations

import collections
import os
import signal
import threading
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine

_PATH = os.environ.get("SYNDICATOR_SQL_STATS", "")
_stats: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
_local = threading.local()
_written = [0]


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
    _local.started = (time.thread_time(), time.perf_counter())


@event.listens_for(Engine, "after_cursor_execute")
def _after(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
    cpu0, wall0 = _local.started
    row = _stats[" ".join(statement.split())[:200]]
    row[0] += 1
    row[1] += time.thread_time() - cpu0
    row[2] += time.perf_counter() - wall0


def _write(*_: object) -> None:
    _written[0] += 1
    rows = sorted(_stats.items(), key=lambda kv: -kv[1][1])
    with open(f"{_PATH}.{_written[0]}", "w") as out:
        out.write(f"{'CPU s':>8} {'wall s':>8} {'count':>7}  statement\n")
        total = [0.0, 0.0, 0]
        for text, (n, cpu, wall) in rows:
            out.write(f"{cpu:8.3f} {wall:8.3f} {int(n):7d}  {text}\n")
            total = [total[0] + cpu, total[1] + wall, total[2] + int(n)]
        out.write(f"{total[0]:8.3f} {total[1]:8.3f} {total[2]:7d}  (all)\n")
    _stats.clear()


if _PATH:
    signal.signal(signal.SIGUSR1, _write)
