"""The async facade of storage: `await aio.call(storage.method, *args)` from any coroutine.

Storage is synchronous (SQLAlchemy sessions). Called from an `async def`, a write that waits
for the SQLite lock (busy timeout 30 s) or a slow PostgreSQL round trip would freeze the whole
daemon: the bots, the health server and every channel share one event loop (issue 11, point 3).
So async components never call storage directly; they hand the call to this module, which runs
it in a worker thread and lets the loop carry on until the answer is there.

- `call` runs on ONE dedicated thread (a single-thread executor), so storage calls made by the
  async components run one at a time, in the order they were awaited: one writer, no pile of
  threads all waiting for the same SQLite lock, and a coroutine that writes and then reads sees
  its own write. A call that waits for a lock delays only the calls queued behind it, never
  the loop.
- `read` runs on a second single thread, for the read-only observers (the health snapshot and
  the /metrics scrape). They only read, so they need no place in the writers' order, and they
  must not be queued behind a write that waits 30 s for a lock: a monitor should still get an
  answer about the rest of the daemon meanwhile. Reads never wait for a writer (SQLite WAL,
  PostgreSQL MVCC).

Both keep the caller's context variables (structlog's bound context), like `asyncio.to_thread`.
Cancelling the awaiting coroutine does not cancel the call: it runs to its end (a transaction
is never cut in half), only its answer is dropped. A function already running on the worker
thread that reaches `call` again runs inline instead of queueing behind itself (which would
never finish).

The two threads are process-wide and started on first use. A hand-off is a job on a plain
queue and the answer set on the caller's own future from that thread (`call_soon_threadsafe`):
through `loop.run_in_executor` (a concurrent Future chained to an asyncio one) a hand-off cost
~140 us of CPU, this way ~50 us; the daemon makes ~400-1,000 a minute (docs/benchmarks.md).
At exit the calls already queued still run (a transaction is never cut in half), as a
ThreadPoolExecutor's would.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

WRITER_NAME = "syndicator-storage"
READER_NAME = "syndicator-storage-read"

_lock = threading.Lock()
_workers: dict[str, _Worker] = {}
_busy_since: dict[str, float] = {}  # WRITER_NAME / READER_NAME -> start of the running call
_STOP = object()


class _Worker:
    """One thread running the calls handed to it, one at a time, in the order they came."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # "<name>_0", as ThreadPoolExecutor named it: _on() and the logs know it so.
        self.thread = threading.Thread(target=self._run, name=f"{name}_0", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not _STOP:
            loop, future, context, fn, args, kwargs = job
            if future.cancelled():  # its caller gave up before it started: not run at all
                continue
            _busy_since[self.name] = time.monotonic()
            try:
                outcome: tuple[Any, BaseException | None] = (
                    context.run(fn, *args, **kwargs),
                    None,
                )
            except BaseException as exc:  # handed to the caller, whatever it is
                outcome = (None, exc)
            finally:
                _busy_since.pop(self.name, None)
            # A closed loop (RuntimeError) has nobody waiting for the answer.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, *outcome)

    def stop(self) -> None:
        """Run what is queued, then end (at exit: no transaction is cut in half)."""
        self.jobs.put(_STOP)
        self.thread.join(timeout=60)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the caller was cancelled meanwhile: the answer is dropped
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _worker(name: str) -> _Worker:
    worker = _workers.get(name)
    if worker is None:
        with _lock:
            worker = _workers.get(name)
            if worker is None:
                worker = _workers[name] = _Worker(name)
    return worker


@atexit.register
def _stop_all() -> None:
    for worker in list(_workers.values()):
        worker.stop()


def _on(name: str) -> bool:
    return threading.current_thread().name.startswith(name + "_")


async def _run(name: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    if _on(name):  # already on that thread (a nested call): queueing would wait for itself
        return fn(*args, **kwargs)
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    _worker(name).jobs.put((loop, future, contextvars.copy_context(), fn, args, kwargs))
    return await future


async def call(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn(*args, **kwargs)` (a storage verb, or a function made of them) on the storage
    thread, in order with the other calls; the loop stays free meanwhile."""
    return await _run(WRITER_NAME, fn, *args, **kwargs)


async def read(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a read-only `fn` on the readers' thread: never queued behind a waiting write."""
    return await _run(READER_NAME, fn, *args, **kwargs)


def writer_busy_for() -> float:
    """Seconds the storage thread has spent on its current call (0.0 when idle): a call that
    waits for a lock shows here, so /healthz can say so."""
    started = _busy_since.get(WRITER_NAME)
    return 0.0 if started is None else max(0.0, time.monotonic() - started)
