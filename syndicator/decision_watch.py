"""Decisions made in another process wake the publisher (issue 11, goal 6).

A decision made in this daemon's bots calls the Decisions listeners, which wake the publisher
at once. A decision made elsewhere (`syndicator approve` / `reject` in a shell, another
instance's bot) changes only the database, so the publisher used to find it at its next turn
(`publishing.interval`, 2 s by default; approval -> live p50 1.14 s in docs/benchmarks.md).

`DecisionWatch` is one daemon thread that notices such decisions and calls `wake()`:

- PostgreSQL: `Storage.decide` sends `NOTIFY syndicator_decision` inside the decision's own
  transaction (PostgreSQL delivers it at commit, never for a rolled-back one: "NOTIFY",
  PostgreSQL docs). The watch holds one connection that `LISTEN`s, blocking in psycopg's
  `Connection.notifies(timeout=...)`, so it costs nothing while nobody decides. When the
  connection drops it reconnects with a capped backoff and wakes the publisher once, since a
  notification sent while it was away is lost.
- SQLite has no notifications. Every `SQLITE_EVERY` seconds the watch reads
  `PRAGMA data_version` on its own connection: it changes only when *another* connection
  committed (SQLite docs, "PRAGMA data_version"). That includes this daemon's own pool (the
  poller commits often), so a change is followed by one indexed read of the newest
  `post.approved` audit event id (the covering index on `audit_events.kind` answers a `max(id)`
  for one kind without a scan); the publisher is woken only when that id moved.

`wake` must be thread-safe (the daemon passes a `loop.call_soon_threadsafe` of `Event.set`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy.engine import make_url

from syndicator.service import aligned

log = structlog.get_logger("syndicator.decision_watch")

CHANNEL = "syndicator_decision"  # the NOTIFY channel Storage.decide signals on
SQLITE_EVERY = 0.2  # seconds between two looks at SQLite's data_version
RECONNECT_MAX = 30.0  # seconds, the cap of the listener's reconnect backoff
_UNREAD = object()
NEWEST_APPROVAL = "SELECT max(id) FROM audit_events WHERE kind = 'post.approved'"


class DecisionWatch:
    """A thread that calls `wake()` when another process records an approval."""

    def __init__(self, database_url: str, wake: Callable[[], None]) -> None:
        self.url = make_url(database_url)
        self.wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.wakes = 0  # how many times it woke the publisher (tests, logs)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    def start(self) -> None:
        if self._thread is not None:
            return
        target = self._listen if self.backend == "postgresql" else self._poll_sqlite
        self._thread = threading.Thread(
            target=target, name="syndicator-decision-watch", daemon=True
        )
        self._thread.start()
        log.info("decision_watch_started", backend=self.backend)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _fire(self) -> None:
        self.wakes += 1
        log.debug("decision_watch_woke", backend=self.backend, wakes=self.wakes)
        try:
            self.wake()
        except RuntimeError:  # the loop is closed: the daemon is stopping
            self._stop.set()

    # -- PostgreSQL ----------------------------------------------------------------------

    def _conninfo(self) -> str:
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def _listen(self) -> None:
        import psycopg

        delay, first = 1.0, True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo(), autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if not first:  # notifications sent while we were away are lost: look now
                        log.info("decision_watch_reconnected")
                        self._fire()
                    first, delay = False, 1.0
                    while not self._stop.is_set():
                        # Blocks up to 1 s (then checks stop); yields each NOTIFY as it comes.
                        if any(True for _ in conn.notifies(timeout=1.0, stop_after=1)):
                            self._fire()
            except Exception as exc:
                log.warning("decision_watch_lost", error=str(exc)[:300], retry_in=delay)
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX)
                first = False

    # -- SQLite --------------------------------------------------------------------------

    def _open_sqlite(self) -> sqlite3.Connection:
        path = self.url.database or ""
        # Read-only: this connection never takes the write lock nor creates the file.
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5, check_same_thread=False)
        conn.isolation_level = None  # autocommit: each read sees the latest commit
        return conn

    def _poll_sqlite(self) -> None:
        conn: Any = None
        version: int | None = None
        newest: Any = _UNREAD  # None is a real answer: no approval recorded yet
        while not self._stop.wait(aligned(SQLITE_EVERY)):  # with the daemon's loops
            try:
                if conn is None:
                    conn = self._open_sqlite()
                    version = None  # `newest` is kept: a change while reopening still wakes
                now_version = conn.execute("PRAGMA data_version").fetchone()[0]
                if now_version == version:
                    continue
                version = now_version
                latest = conn.execute(NEWEST_APPROVAL).fetchone()[0]
                if newest is not _UNREAD and latest != newest:
                    self._fire()
                newest = latest
            except sqlite3.Error as exc:
                log.warning("decision_watch_lost", error=str(exc)[:300])
                if conn is not None:
                    conn.close()
                conn = None
                self._stop.wait(1.0)
        if conn is not None:
            conn.close()
