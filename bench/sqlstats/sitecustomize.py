"""Per-statement SQL cost inside a benchmarked daemon (bench/daemon.py --sql-stats PATH).

Python imports `sitecustomize` at start-up from PYTHONPATH; the bench puts this folder there
only for that option. Every statement the daemon runs is timed in the thread that runs it:
thread CPU (SQLite does its work in that thread, outside the GIL, so py-spy --gil misses it)
and wall time; and each hand-off to the storage threads (storage/aio.py), counted by the
function handed off, with the thread CPU spent inside each call. SIGUSR1 writes the totals so far to PATH.<n> and starts counting again, so the
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
_hops: collections.Counter[str] = collections.Counter()
_hop_cpu: dict[str, float] = collections.defaultdict(float)  # thread CPU inside each call


def _count_hops() -> None:
    from syndicator.storage import aio

    run = aio._run

    async def counted(name, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        if aio._on(name):
            return await run(name, fn, *args, **kwargs)
        key = f"{name}: {getattr(fn, '__qualname__', type(fn).__name__)}"
        _hops[key] += 1

        def timed(*a, **k):  # type: ignore[no-untyped-def]
            started = time.thread_time()
            try:
                return fn(*a, **k)
            finally:
                _hop_cpu[key] += time.thread_time() - started

        return await run(name, timed, *args, **kwargs)

    aio._run = counted  # type: ignore[assignment]


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
        out.write(
            f"\n{sum(_hops.values()):7d}  hand-offs to the storage threads "
            f"({sum(_hop_cpu.values()):.3f} CPU-s inside the calls)\n"
        )
        for what, count in sorted(_hops.items(), key=lambda kv: -_hop_cpu[kv[0]]):
            cpu = _hop_cpu[what]
            out.write(f"{count:7d}  {cpu:7.3f} s  {1000 * cpu / count:6.2f} ms each  {what}\n")
    _stats.clear()
    _hops.clear()
    _hop_cpu.clear()


if _PATH:
    signal.signal(signal.SIGUSR1, _write)
    _count_hops()
