"""Running unattended: one instance per SQLite database, supervised tasks, signals.

A crashed task is logged and restarted with backoff rather than silently dying; SIGTERM and
SIGINT stop everything gracefully; SIGHUP asks for a config reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, ClassVar

import structlog
from sqlalchemy.engine import make_url

from syndicator.errors import SyndicatorError

log = structlog.get_logger("syndicator.service")


class InstanceLock:
    """An exclusive lock file beside the SQLite database: a second daemon refuses to start.

    PostgreSQL deployments may run several daemons (claims are atomic there), so no lock.
    """

    def __init__(self, database_url: str) -> None:
        self.path: Path | None = None
        self._file: IO[str] | None = None
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self.path = Path(str(url.database)).expanduser().resolve().with_suffix(".lock")

    def acquire(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise SyndicatorError(
                f"another syndicator daemon ({holder}) is already running on this database "
                f"(lock {self.path}); stop it first — two daemons on one SQLite file are refused"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, returning early when `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))


def aligned(period: float, now: float | None = None) -> float:
    """Seconds until the next multiple of `period` on the monotonic clock (the event loop's).

    The daemon's periodic loops (poll tick, health snapshot, publisher, bot, expiry, decision
    watch) sleep this long after their work instead of `period`, so loops of the same or of
    multiple periods wake together and their work runs back to back (timer coalescing).
    A mostly idle daemon pays for each separate wake-up: its code runs on cold caches, and
    the health snapshot's reads, 0.3 ms of CPU run back to back, cost 1.3-1.5 ms after a
    20 ms sleep (issue 11, docs/benchmarks.md). The period is kept; only the phase is shared.
    """
    if period <= 0:  # a zero interval (`[publishing] interval = "0s"`): no wait, as before
        return 0.0
    now = time.monotonic() if now is None else now
    return period - now % period


async def sleep_aligned(stop: asyncio.Event, period: float) -> None:
    """sleep_or_stop until the next multiple of `period` (aligned)."""
    await sleep_or_stop(stop, aligned(period))


@dataclass
class Vitals:
    """What the daemon's tasks report about themselves, for /healthz (in memory: cheap to read).

    `crashes`: task name -> (count, last error, when); a task counts as crashing while its last
    crash is younger than CRASH_MEMORY. `telegram`: None while the bot reaches Telegram (or
    there is no bot), else why it does not.
    """

    CRASH_MEMORY: ClassVar[timedelta] = timedelta(minutes=5)
    crashes: dict[str, tuple[int, str, datetime]] = field(default_factory=dict)
    telegram: str | None = None
    telegram_since: datetime | None = None
    audit: tuple[bool, str | None] | None = None  # (chain ok, reason) from the last check

    def crashed(self, task: str, error: str, now: datetime) -> int:
        count = self.crashes.get(task, (0, "", now))[0] + 1
        self.crashes[task] = (count, error, now)
        return count

    def crashing(self, now: datetime) -> dict[str, tuple[int, str, datetime]]:
        return {t: c for t, c in self.crashes.items() if now - c[2] <= self.CRASH_MEMORY}


async def supervise(
    name: str,
    work: Callable[[asyncio.Event], Awaitable[None]],
    stop: asyncio.Event,
    *,
    max_backoff: float = 60.0,
    vitals: Vitals | None = None,
) -> None:
    """Run `work(stop)` until stop; when it raises, log it and start it again after a backoff.

    The first crash (and a crash with a new error) logs its traceback; a repeat of the same
    error is one line, so a crash loop does not flood the journal.
    """
    delay = 1.0
    last: str | None = None
    while not stop.is_set():
        try:
            await work(stop)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
            count = vitals.crashed(name, error, datetime.now(UTC)) if vitals else 0
            if error != last:
                log.exception("task_crashed", task=name, restart_in=delay, crashes=count)
            else:
                log.error("task_crashed", task=name, restart_in=delay, crashes=count, error=error)
            last = error
            await sleep_or_stop(stop, delay)
            delay = min(delay * 2, max_backoff)


# Rows one verification step reads at most (~0.1 CPU-s); with more waiting, the next step
# follows after AUDIT_CATCH_UP_S instead of `verify_every`.
AUDIT_STEP_ROWS = 10_000
AUDIT_CATCH_UP_S = 5.0


async def watch_audit(storage: Any, vitals: Vitals, every: float, stop: asyncio.Event) -> None:
    """Verify the audit chain every `every` seconds, in a thread; /healthz reads the result.

    Each check reads only the rows added since the last good one, and the whole trail once a
    day (`Storage.verify_audit_step`), in bites of AUDIT_STEP_ROWS: a restarted daemon no
    longer walks a long backlog in one go while its first poll runs. /healthz shows the answer
    once the walk reached the newest row (a break is shown at once)."""
    while not stop.is_set():
        result = await asyncio.to_thread(
            storage.verify_audit_step, datetime.now(UTC), max_rows=AUDIT_STEP_ROWS
        )
        if result.ok and result.pending:
            await sleep_or_stop(stop, AUDIT_CATCH_UP_S)
            continue
        reason = None if result.ok else f"broken at event {result.bad_id}: {result.reason}"
        if not result.ok and vitals.audit != (False, reason):
            log.error("audit_chain_broken", reason=reason)
        vitals.audit = (result.ok, reason)
        await sleep_or_stop(stop, every)


def install_signals(stop: asyncio.Event, reload: asyncio.Event) -> Callable[[], None]:
    """SIGTERM/SIGINT set `stop`; SIGHUP sets `reload`. Returns a function that uninstalls."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig, event in ((signal.SIGTERM, stop), (signal.SIGINT, stop), (signal.SIGHUP, reload)):
        try:
            loop.add_signal_handler(sig, event.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass

    def uninstall() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return uninstall


class LeaderLock:
    """On PostgreSQL, one daemon of several is the leader: it alone publishes and runs the bot.

    Polling is safe everywhere (sources are claimed atomically), but Telegram allows one poller
    per bot token and a Zalo refresh token is single-use, so those stay on one instance. The
    lock is a session-level advisory lock held on a dedicated connection: if the leader dies,
    its connection closes and another daemon takes over. SQLite deployments are always leader
    (InstanceLock already allows only one daemon).
    """

    KEY = 0x5359_4E45  # "SYNE"

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._conn: Any = None
        self.is_leader = engine.dialect.name != "postgresql"

    def try_acquire(self) -> bool:
        if self.is_leader:
            return True
        from sqlalchemy import text

        try:
            if self._conn is None:
                self._conn = self.engine.connect()
            got = bool(
                self._conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": self.KEY}
                ).scalar()
            )
            self._conn.commit()
        except Exception:
            log.exception("leader_lock_failed")
            self.release()
            return False
        self.is_leader = got
        if got:
            log.info("leader_acquired")
        return got

    def release(self) -> None:
        if self._conn is not None:
            # A pooled connection would keep the session lock: unlock, then really close it.
            with contextlib.suppress(Exception):
                from sqlalchemy import text

                self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
            with contextlib.suppress(Exception):
                self._conn.invalidate()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self.engine.dialect.name == "postgresql":
            self.is_leader = False
