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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

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


async def supervise(
    name: str,
    work: Callable[[asyncio.Event], Awaitable[None]],
    stop: asyncio.Event,
    *,
    max_backoff: float = 60.0,
) -> None:
    """Run `work(stop)` until stop; when it raises, log it and start it again after a backoff."""
    delay = 1.0
    while not stop.is_set():
        try:
            await work(stop)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("task_crashed", task=name, restart_in=delay)
            await sleep_or_stop(stop, delay)
            delay = min(delay * 2, max_backoff)


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
