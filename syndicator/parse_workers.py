"""Worker processes that parse, normalise and classify whole documents on another core.

A first poll of 2,000 feeds is 40,000 entries to parse, normalise and classify, and storing
and planning them already keeps one core busy: in the daemon's process all of it shares one
interpreter lock. `[poll] parse_processes` worker processes take the preparing (sources/
prepare.py) and hand back finished articles, so the daemon's own core only stores (issue 11,
docs/benchmarks.md). The new items of a changed feed stay in the daemon: one item is cheaper
to prepare than to send.

A worker imports only the parsers, normalise and classify (~28 MB of RSS). It is a fresh
interpreter (`spawn`: never fork a process that runs threads, asyncio's and SQLite's; and no
`forkserver`, a third process of ~14 MB), started on first use, so a daemon whose feeds never
need it never starts one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.machinery
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any, TypeVar

import structlog

from syndicator.config import SourceSettings
from syndicator.sources.classify import ClassifierRules
from syndicator.sources.fetch import FetchResult
from syndicator.sources.prepare import Prepared, prepare_document, start_worker

log = structlog.get_logger("syndicator.poller")

T = TypeVar("T")

# Polls in progress at once before a worker is started: a first poll of many feeds (2,000 start
# together), not the handful of a small deployment or of the steady state, where preparing in
# the daemon costs less than a process of ~43 MB (the worker and multiprocessing's resource
# tracker). A started worker is used for every whole document until it has been idle this long.
START_AT = 100
IDLE_STOP_S = 300.0

# Worker deaths tolerated per poller (a config reload or a restart makes a new one): past this,
# documents are prepared in the daemon itself, as with `parse_processes = 0`.
_MAX_DEATHS = 3


@contextlib.contextmanager
def _main_not_imported() -> Iterator[None]:
    """While workers start: make the parent's `__main__` one that a worker does not import.

    multiprocessing runs the parent's main script again in each new worker (spawn.prepare),
    and for the `syndicator` console script (deploy/syndicator.service) or daemon.py that is
    the whole CLI: ~70 MB of modules a worker never uses. It leaves out a main module named
    like a package's `__main__` (what `python -m syndicator` gives), so the script's main is
    given that name while processes start (on the loop thread, during submit).
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    main.__spec__ = importlib.machinery.ModuleSpec("syndicator.__main__", None)
    try:
        yield
    finally:
        main.__spec__ = None


def document_args(source: SourceSettings, result: FetchResult) -> tuple[Any, ...]:
    """Plain arguments for parse_document / prepare_document (cheap to send to a worker)."""
    mapping = source.mapping.model_dump() if source.kind == "json" and source.mapping else None
    return (source.kind, result.body, result.headers, result.final_url or source.url, mapping)


def default_processes() -> int:
    """`parse_processes` left unset: one worker when there is a second core, else none."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


class ParseWorkers:
    """A lazily started process pool for `prepare_document` calls; never raises into a poll."""

    def __init__(self, processes: int, rules: ClassifierRules) -> None:
        self.processes = processes
        self.rules = rules
        self.deaths = 0
        self.start_at = START_AT
        self._pool: ProcessPoolExecutor | None = None
        self._used_at = 0.0  # time.monotonic() of the last document handed over

    @property
    def enabled(self) -> bool:
        return self.processes > 0 and self.deaths < _MAX_DEATHS

    def wanted(self, polls_in_progress: int) -> bool:
        """Whether a whole document should go to a worker now (see START_AT)."""
        return self.enabled and (self._pool is not None or polls_in_progress >= self.start_at)

    def stop_if_idle(self) -> None:
        """Stop a worker that had nothing to do for IDLE_STOP_S: its memory goes back."""
        if self._pool is not None and time.monotonic() - self._used_at > IDLE_STOP_S:
            log.info("parse_worker_stopped", idle_s=round(time.monotonic() - self._used_at))
            self.close()

    def _start(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(
            self.processes, mp_context=context, initializer=start_worker, initargs=(self.rules,)
        )

    async def prepare(
        self, source: SourceSettings, result: FetchResult, now: datetime
    ) -> Prepared | None:
        """A fetched document parsed, normalised and classified in a worker, or None (run)."""
        work = functools.partial(
            prepare_document, *document_args(source, result), source_id=source.id,
            agency=source.agency_name, now=now,
        )  # fmt: skip
        return await self.run(work)

    async def run(self, work: Callable[[], T]) -> T | None:
        """`work()` in a worker process; None when no worker could do it (the caller does it
        itself: nothing is lost, it only costs the daemon's own core)."""
        if not self.enabled:
            return None
        loop = asyncio.get_running_loop()
        self._used_at = time.monotonic()
        try:
            pool = self._pool = self._pool or self._start()
            # Submitting starts the processes on first use: that is where they can fail.
            with _main_not_imported():
                future = loop.run_in_executor(pool, work)
        except BrokenProcessPool as exc:
            self._died(pool, exc)
            return None
        except (OSError, RuntimeError) as exc:
            self.deaths = _MAX_DEATHS  # could not even start: do not try on every document
            self.close()
            self._report(f"cannot start a worker process: {type(exc).__name__}: {exc}")
            return None
        try:
            return await future
        except BrokenProcessPool as exc:
            # A worker was killed (the OOM killer, an operator) or crashed: every document it
            # held comes back here and is prepared in the daemon; the next one starts a new pool.
            # Any other exception is the work's own and reaches the caller as if run here.
            self._died(pool, exc)
            return None

    def _died(self, pool: ProcessPoolExecutor, exc: BaseException) -> None:
        if pool is not self._pool:
            return  # another document of the same dead pool already reported it
        self.deaths += 1
        self.close()
        self._report(f"a worker process died: {exc}")

    def _report(self, reason: str) -> None:
        log.error(
            "parse_worker_failed",
            reason=reason[:300],
            fallback="documents are prepared in the daemon's own process",
            disabled=not self.enabled,
        )

    def pids(self) -> list[int]:
        """The worker processes running now (for benchmarks: their CPU and memory)."""
        pool = self._pool
        return list(getattr(pool, "_processes", None) or {}) if pool is not None else []

    def close(self) -> None:
        """Stop the workers (daemon stop, config reload); documents in flight are dropped,
        their polls are not recorded and run again at the next due time."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
