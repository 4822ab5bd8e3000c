"""The operator's HTTP listener: /healthz for monitors and /metrics for Prometheus.

It runs inside the daemon's asyncio loop, so it is only as alive as the daemon itself: a
wedged loop makes /healthz time out, which is what a monitor should see. The loop never waits
for the database here: while serving, a task refreshes a snapshot of what storage says every
SNAPSHOT_EVERY_S (1 s), reading on the storage facade's reader thread (storage/aio.py), and
/healthz answers from the latest snapshot at once, so what it reports of the database is at
most about a second old (`checks.database.age_s`). A snapshot older than DB_TIMEOUT_S means
the database stopped answering: 503 with that reason, not a hung request. The last poll time
and what only the running daemon knows (task crashes, Telegram, audit) are read at request
time. A one-off check (`syndicator health`, no listener) reads storage then and there.

/healthz is 200 when the database answers, the last poll cycle in which some portal answered
is younger than `[server] max_poll_age` (so it must exceed the longest source interval), no
source is unhealthy, no channel waits for new credentials, no approved post has been due for
longer than `[server] max_approved_wait` on a channel free to publish, no daemon task keeps
crashing, Telegram answers (approval by Telegram) and the audit chain verified; otherwise 503.
The JSON body says which check failed and why. A paused (by a human) or throttled (by the
service) channel is reported but does not fail the check: neither needs the operator.

It is pinged often, so it stays cheap: a handful of indexed queries; the audit chain is
verified by the daemon every `[approval] verify_every` and only its last result is read here.

The listener is a small HTTP/1.0-style server on asyncio streams (one GET per connection),
not a general web server: it caps concurrent connections (MAX_CONNECTIONS; more are answered
503 and closed at once) and closes a connection that has not sent its request within
HEADER_TIMEOUT, so idle or slow clients cannot exhaust the daemon's file descriptors.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from syndicator import __version__
from syndicator.config import ServerSettings
from syndicator.errors import ConfigError
from syndicator.metrics import CONTENT_TYPE, Metrics, channel_state
from syndicator.publishing.pacing import local_midnight, quiet_until
from syndicator.storage import aio

log = structlog.get_logger("syndicator.server")

DB_TIMEOUT_S = 5.0
SNAPSHOT_EVERY_S = 1.0
MAX_CONNECTIONS = 64
HEADER_TIMEOUT_S = 5.0
MAX_HEADER_BYTES = 8192


@dataclass(frozen=True, slots=True)
class Health:
    """The outcome of the checks, and the JSON body that explains it."""

    healthy: bool
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Observed:
    """What the checks read; `evaluate` turns it into a verdict without touching anything."""

    database_ok: bool
    database_error: str | None = None
    last_poll: datetime | None = None
    channels: Mapping[str, Any] = field(default_factory=dict)
    failing_sources: Mapping[str, str | None] = field(default_factory=dict)
    waiting_posts: Sequence[tuple[int, str, datetime]] = ()  # (post, channel, due since)
    crashing: Mapping[str, tuple[int, str, datetime]] = field(default_factory=dict)
    telegram: str | None = None  # why Telegram cannot be reached; None when it can (or no bot)
    audit: tuple[bool, str | None] | None = None  # last verification; None: not checked yet
    age_s: float | None = None  # how old the storage snapshot is (None: read just now)
    writer_busy_s: float = 0.0  # how long the storage thread has been on its current call


def parse_listen(value: str) -> tuple[str, int]:
    """ "127.0.0.1:9464", "[::1]:9464" or ":9464" (all interfaces) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f'server.listen: {value!r} is not "HOST:PORT" (e.g. "127.0.0.1:9464")')
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def due_since(record: Any, pacing: Any, last_published: datetime | None, now: datetime) -> datetime:
    """Since when an approved post could have gone out: its decision or schedule, moved past
    the channel's quiet window, today's daily cap and min_interval. Pure."""
    due = max(t for t in (record.decided_at, record.scheduled_for, record.next_attempt_at) if t)
    due = due if due.tzinfo else due.replace(tzinfo=UTC)
    if pacing is None:
        return due
    end = quiet_until(due, getattr(pacing, "quiet_window", None))
    due = end or due
    if getattr(pacing, "max_per_day", None) is not None:
        due = max(due, min(now, local_midnight(now)))  # a cap reached yesterday held it
    interval = getattr(pacing, "min_interval", None)
    if interval and last_published is not None:
        due = max(due, last_published + interval)
    return due


def evaluate(
    *,
    now: datetime,
    observed: Observed,
    started_at: datetime,
    max_poll_age: timedelta,
    max_approved_wait: timedelta = timedelta(minutes=30),
) -> Health:
    """Decide health from what was observed; pure, so the rules are easy to read and test."""
    problems: list[str] = []
    database: dict[str, Any] = {"ok": observed.database_ok}
    if not observed.database_ok:
        database["error"] = observed.database_error
        problems.append("database")
    if observed.age_s is not None:
        database["age_s"] = round(observed.age_s, 1)
    if observed.writer_busy_s >= 1.0:  # e.g. a write waiting for the SQLite lock: worth a look
        database["writer_busy_s"] = round(observed.writer_busy_s, 1)

    poll: dict[str, Any] = {"max_age_s": max_poll_age.total_seconds()}
    if observed.last_poll is None:
        # A fresh daemon gets one max_poll_age of grace before "never polled" counts as stale.
        poll["last_poll_at"] = None
        poll["ok"] = now - started_at <= max_poll_age
        poll["note"] = "no poll cycle finished yet"
    else:
        age = now - observed.last_poll
        poll.update(
            last_poll_at=observed.last_poll.isoformat(), age_s=round(age.total_seconds(), 1)
        )
        poll["ok"] = age <= max_poll_age
    if not poll["ok"]:
        problems.append("poll")

    sources = {"ok": not observed.failing_sources, "failing": dict(observed.failing_sources)}
    problems += [f"source:{name}" for name in sorted(observed.failing_sources)]

    channel_checks: dict[str, Any] = {}
    for name, status in sorted(observed.channels.items()):
        state = channel_state(status, now)
        entry: dict[str, Any] = {"state": state, "ok": state != "needs_credentials"}
        if status is not None and status.reason:
            entry["reason"] = status.reason
        if state == "throttled":
            entry["blocked_until"] = status.blocked_until.isoformat()
        if not entry["ok"]:
            problems.append(f"channel:{name}")
        channel_checks[name] = entry

    late = [(pid, ch, since) for pid, ch, since in observed.waiting_posts
            if now - since > max_approved_wait]  # fmt: skip
    publishing: dict[str, Any] = {"ok": not late, "max_wait_s": max_approved_wait.total_seconds()}
    if late:
        oldest = min(late, key=lambda item: item[2])
        publishing["late_posts"] = len(late)
        publishing["reason"] = (
            f"{len(late)} approved post(s) not attempted; post {oldest[0]} ({oldest[1]}) due "
            f"since {oldest[2].isoformat()}: is the publisher running? see `syndicator posts`"
        )
        problems.append("publishing")

    tasks = {name: {"crashes": n, "error": error, "at": at.isoformat()}
             for name, (n, error, at) in sorted(observed.crashing.items())}  # fmt: skip
    problems += [f"task:{name}" for name in tasks]

    telegram: dict[str, Any] = {"ok": observed.telegram is None}
    if observed.telegram is not None:
        telegram["reason"] = observed.telegram
        problems.append("telegram")

    audit: dict[str, Any] = {"ok": True, "checked": observed.audit is not None}
    if observed.audit is not None and not observed.audit[0]:
        audit.update(ok=False, reason=observed.audit[1])
        problems.append("audit")

    body = {
        "status": "ok" if not problems else "fail",
        "problems": problems,
        "version": __version__,
        "time": now.isoformat(),
        "checks": {
            "database": database, "poll": poll, "sources": sources, "channels": channel_checks,
            "publishing": publishing, "tasks": tasks, "telegram": telegram, "audit": audit,
        },
    }  # fmt: skip
    return Health(not problems, body)


class HealthServer:
    """/healthz and /metrics on `[server] listen`, inside the running loop."""

    def __init__(
        self,
        settings: ServerSettings,
        storage: Any,
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        last_poll: Callable[[], datetime | None] | None = None,
        *,
        channels: tuple[str, ...] | list[str] = (),
        pacing: Mapping[str, Any] | None = None,
        sources: Sequence[str] | None = None,
        vitals: Any = None,
        audit: Callable[[], tuple[bool, str | None] | None] | None = None,
    ) -> None:
        if not settings.listen:
            raise ConfigError("server.listen is not set: the health server is off")
        self.host, self.port = parse_listen(settings.listen)
        self.settings = settings
        self.storage = storage
        self.metrics = metrics
        self.clock = clock
        # Default: the last cycle in which some portal answered, as Metrics.poll_cycle saw it.
        self.last_poll = last_poll or metrics.last_successful_poll
        self.channels = list(channels) or list(metrics.channels)
        self.pacing = dict(pacing or {})  # channel -> settings with the pacing fields
        self.sources = list(sources) if sources is not None else None
        self.vitals = vitals  # syndicator.service.Vitals of the daemon, when there is one
        self.audit = audit or (lambda: vitals.audit if vitals is not None else None)
        self.started_at = clock()
        self._server: asyncio.Server | None = None
        self._open = 0
        # While serving: the latest storage snapshot (observed, loop time), kept by _refresh.
        self._snapshot: tuple[Observed, float] | None = None
        self._refreshed = asyncio.Event()
        self._refresher: asyncio.Task[None] | None = None

    def reconfigure(self, settings: Any, pacing: Mapping[str, Any]) -> None:
        """From the (re)loaded Settings: thresholds, and which channels and sources to check;
        the listening address stays what it was started with."""
        self.settings = settings.server.model_copy(update={"listen": self.settings.listen})
        self.channels, self.pacing = list(settings.channels), dict(pacing)
        self.sources = [s.id for s in settings.sources if s.enabled]

    async def start(self) -> str:
        """Bind and serve; return the base URL (port 0 binds a free port, for tests)."""
        try:
            self._server = await asyncio.start_server(
                self._connection, self.host, self.port, limit=MAX_HEADER_BYTES
            )
        except OSError as exc:
            msg = f"server.listen: cannot listen on {self.settings.listen}: {exc}"
            raise ConfigError(msg) from exc
        host, port = self._server.sockets[0].getsockname()[:2]
        self.started_at = self.clock()
        self._snapshot, self._refreshed = None, asyncio.Event()
        self._refresher = asyncio.create_task(self._refresh(), name="health-snapshot")
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        log.info("health_server_started", url=url)
        return url

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._refresher
            self._refresher = None
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def check(self) -> Health:
        """Run the checks now (also what `syndicator health` prints)."""
        if self._refresher is None:  # a one-off check: read storage now, off the loop
            try:
                observed = await asyncio.wait_for(aio.read(self._observe), DB_TIMEOUT_S)
            except TimeoutError:
                observed = Observed(False, f"no answer within {DB_TIMEOUT_S:.0f} s")
        else:
            observed = await self._latest()
        now = self.clock()
        extra: dict[str, Any] = {"audit": self.audit(), "writer_busy_s": aio.writer_busy_for()}
        if self.vitals is not None:
            extra.update(crashing=self.vitals.crashing(now), telegram=self.vitals.telegram)
        channels = dict(observed.channels)
        for name in self.channels:
            channels.setdefault(name, None)
        observed = Observed(**{**_fields(observed), "channels": channels, **extra})
        return evaluate(
            now=now,
            observed=observed,
            started_at=self.started_at,
            max_poll_age=self.settings.max_poll_age,
            max_approved_wait=self.settings.max_approved_wait,
        )

    async def _refresh(self) -> None:
        """While serving: read storage on the reader thread every SNAPSHOT_EVERY_S. A read
        that hangs leaves the snapshot to age, which _latest reports."""
        loop = asyncio.get_running_loop()
        while True:
            observed = await aio.read(self._observe, last_poll=False)
            self._snapshot = (observed, loop.time())
            self._refreshed.set()
            await asyncio.sleep(SNAPSHOT_EVERY_S)

    async def _latest(self) -> Observed:
        """The snapshot with its age; the last poll read now (in memory while serving)."""
        if self._snapshot is None:  # just started: wait for the first read, not forever
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refreshed.wait(), DB_TIMEOUT_S)
        try:
            last_poll = self.last_poll()
        except Exception:
            last_poll = None
        if self._snapshot is None:
            return Observed(False, f"no answer within {DB_TIMEOUT_S:.0f} s", last_poll)
        observed, taken = self._snapshot
        age = asyncio.get_running_loop().time() - taken
        if age > DB_TIMEOUT_S:
            why = f"no answer from the database for {age:.0f} s"
            return Observed(False, why, last_poll, age_s=age)
        return dataclasses.replace(observed, last_poll=last_poll, age_s=age)

    def _observe(self, *, last_poll: bool = True) -> Observed:
        # In a worker thread. A one-off check's last_poll callable may read storage too; while
        # serving it is read at request time instead (the daemon's is in memory).
        read_at: datetime | None = None
        if last_poll:
            try:
                read_at = self.last_poll()
            except Exception:
                read_at = None
        last_poll_at = read_at
        try:
            if not self.storage.ping():
                return Observed(False, "SELECT 1 gave an unexpected answer", last_poll_at)
            statuses = dict(self.storage.channel_statuses())
            return Observed(
                True, None, last_poll_at, statuses,
                failing_sources=self._failing_sources(),
                waiting_posts=self._waiting_posts(statuses),
            )  # fmt: skip
        except Exception as exc:  # any failure here is the answer, not a crash of the server
            return Observed(False, f"{type(exc).__name__}: {exc}", last_poll_at)

    def _failing_sources(self) -> dict[str, str | None]:
        # Only the unhealthy rows: every source's state, each second, was a fifth of the
        # daemon's steady CPU with 2,000 sources (issue 11, docs/benchmarks.md).
        failing = self.storage.unhealthy_sources(self.sources)
        return {sid: (error or "")[:200] for sid, error in failing.items()}

    def _waiting_posts(self, statuses: Mapping[str, Any]) -> list[tuple[int, str, datetime]]:
        from syndicator.types import PostStatus

        now = self.clock()
        approved = self.storage.list_posts(status=[PostStatus.APPROVED], limit=500)
        out: list[tuple[int, str, datetime]] = []
        last: dict[str, datetime | None] = {}
        for record in approved:
            status = statuses.get(record.channel)
            if status is not None and not status.can_publish(now):
                continue  # paused, needs credentials or throttled: reported as the channel
            if record.channel not in last:
                last[record.channel] = self.storage.publishing_counts(record.channel, now)[1]
            since = due_since(record, self.pacing.get(record.channel), last[record.channel], now)
            out.append((record.id, record.channel, since))
        return out

    # -- the listener ------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open += 1
        try:
            if self._open > MAX_CONNECTIONS:
                await self._answer(writer, 503, "text/plain", b"busy: too many connections\n")
                return
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEADER_TIMEOUT_S)
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ConnectionError):  # fmt: skip
                return  # idle, slow, oversized or gone: close without a word
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            if len(parts) != 3 or parts[0] not in ("GET", "HEAD"):
                await self._answer(writer, 405, "text/plain", b"only GET\n")
                return
            status, ctype, body = await self._route(parts[1].split("?", 1)[0])
            await self._answer(writer, status, ctype, body, head_only=parts[0] == "HEAD")
        except Exception as exc:  # one bad connection never takes the server down
            log.warning("health_request_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._open -= 1
            with contextlib.suppress(Exception):
                writer.close()

    async def _route(self, path: str) -> tuple[int, str, bytes]:
        if path == "/healthz":
            health = await self.check()
            if not health.healthy:
                log.warning("health_failed", problems=health.body["problems"])
            body = json.dumps(health.body, ensure_ascii=False).encode("utf-8")
            return (200 if health.healthy else 503), "application/json; charset=utf-8", body
        if path == "/metrics":
            try:
                text = await asyncio.wait_for(aio.read(self.metrics.render), DB_TIMEOUT_S)
            except TimeoutError:
                return 503, "text/plain", b"metrics: the database did not answer in time\n"
            return 200, CONTENT_TYPE, text if isinstance(text, bytes) else text.encode()
        if path == "/":
            return 200, "text/plain; charset=utf-8", b"syndicator: see /healthz and /metrics\n"
        return 404, "text/plain", b"not found\n"

    async def _answer(self, writer: asyncio.StreamWriter, status: int, ctype: str, body: bytes,
                      *, head_only: bool = False) -> None:  # fmt: skip
        reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed",
                  503: "Service Unavailable"}.get(status, "")  # fmt: skip
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
        writer.write(head.encode("latin-1") + (b"" if head_only else body))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.drain(), HEADER_TIMEOUT_S)


def _fields(observed: Observed) -> dict[str, Any]:
    return {name: getattr(observed, name) for name in Observed.__dataclass_fields__}
