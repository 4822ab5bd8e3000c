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

The executors are process-wide and created on first use; their threads end with the process.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

WRITER_NAME = "syndicator-storage"
READER_NAME = "syndicator-storage-read"

_lock = threading.Lock()
_executors: dict[str, ThreadPoolExecutor] = {}
_busy_since: dict[str, float] = {}  # executor name -> monotonic start of the running call


def _executor(name: str) -> ThreadPoolExecutor:
    with _lock:
        executor = _executors.get(name)
        if executor is None:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
            _executors[name] = executor
        return executor


def _on(name: str) -> bool:
    return threading.current_thread().name.startswith(name + "_")


async def _run(name: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    if _on(name):  # already on that thread (a nested call): queueing would wait for itself
        return fn(*args, **kwargs)
    context = contextvars.copy_context()

    def job() -> T:
        _busy_since[name] = time.monotonic()
        try:
            return context.run(fn, *args, **kwargs)
        finally:
            _busy_since.pop(name, None)

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(name), job)


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
