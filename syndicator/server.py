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

The listener is a small HTTP/1.0-style server, an asyncio protocol (one GET per connection),
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
from datetime import UTC, datetime
from typing import Any

import structlog

from syndicator.config import ServerSettings
from syndicator.errors import ConfigError
from syndicator.health import Health, Observed, _fields, due_since, evaluate
from syndicator.metrics import CONTENT_TYPE, Metrics
from syndicator.service import aligned
from syndicator.storage import aio

log = structlog.get_logger("syndicator.server")

DB_TIMEOUT_S = 5.0
SNAPSHOT_EVERY_S = 1.0
MAX_CONNECTIONS = 64
HEADER_TIMEOUT_S = 5.0
MAX_HEADER_BYTES = 8192


def parse_listen(value: str) -> tuple[str, int]:
    """ "127.0.0.1:9464", "[::1]:9464" or ":9464" (all interfaces) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f'server.listen: {value!r} is not "HOST:PORT" (e.g. "127.0.0.1:9464")')
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


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
        self._waiting: set[asyncio.Task[None]] = set()  # answers that wait (/metrics)

    def reconfigure(self, settings: Any, pacing: Mapping[str, Any]) -> None:
        """From the (re)loaded Settings: thresholds, and which channels and sources to check;
        the listening address stays what it was started with."""
        self.settings = settings.server.model_copy(update={"listen": self.settings.listen})
        self.channels, self.pacing = list(settings.channels), dict(pacing)
        self.sources = [s.id for s in settings.sources if s.enabled]

    async def start(self) -> str:
        """Bind and serve; return the base URL (port 0 binds a free port, for tests)."""
        try:
            loop = asyncio.get_running_loop()
            self._server = await loop.create_server(lambda: _Exchange(self), self.host, self.port)
        except OSError as exc:
            msg = f"server.listen: cannot listen on {self.settings.listen}: {exc}"
            raise ConfigError(msg) from exc
        host, port = self._server.sockets[0].getsockname()[:2]
        self.started_at = self.clock()
        self._snapshot, self._refreshed = None, asyncio.Event()
        self._refresher = asyncio.create_task(self._refresh(), name="health-snapshot")
        # The first snapshot is read now, while the daemon is quiet (its loops start after
        # this), so no /healthz waits for it: read during a restart's first tick (2,000
        # sources claimed and started), it kept the first answers waiting 80-150 ms
        # (docs/benchmarks.md). A database that does not answer delays the start by
        # DB_TIMEOUT_S at most, and /healthz then says so.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._refreshed.wait(), DB_TIMEOUT_S)
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        log.info("health_server_started", url=url)
        return url

    async def stop(self) -> None:
        for task in list(self._waiting):
            task.cancel()
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
        return self._verdict(observed)

    def _verdict(self, observed: Observed) -> Health:
        """The checks on what storage said, with what only the running daemon knows."""
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
            await asyncio.sleep(aligned(SNAPSHOT_EVERY_S))  # with the poll tick (aligned)

    async def _latest(self) -> Observed:
        """The snapshot with its age; the last poll read now (in memory while serving)."""
        if self._snapshot is None:  # just started: wait for the first read, not forever
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refreshed.wait(), DB_TIMEOUT_S)
        return self._latest_now()

    def _latest_now(self) -> Observed:
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
            # One session for all of it: one connection and transaction a second, not five.
            # No SELECT 1 first: the reads below answering is the proof the database answers.
            with self.storage.reading():
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
        if PostStatus.APPROVED not in self.storage.due_statuses([PostStatus.APPROVED], None):
            return []  # most seconds: no post read whole
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

    def _route_now(self, path: str) -> tuple[int, str, bytes] | None:
        """The answer when it needs no wait (/healthz once a snapshot was taken); else None."""
        if path == "/healthz":
            if self._snapshot is None:
                return None  # just started: _route waits for the first snapshot
            return self._healthz(self._verdict(self._latest_now()))
        if path == "/":
            return 200, "text/plain; charset=utf-8", b"syndicator: see /healthz and /metrics\n"
        if path == "/metrics":
            return None  # rendered on the reader thread (it reads storage)
        return 404, "text/plain", b"not found\n"

    async def _route(self, path: str) -> tuple[int, str, bytes]:
        if path == "/healthz":
            return self._healthz(await self.check())
        if path == "/metrics":
            try:
                text = await asyncio.wait_for(aio.read(self.metrics.render), DB_TIMEOUT_S)
            except TimeoutError:
                return 503, "text/plain", b"metrics: the database did not answer in time\n"
            return 200, CONTENT_TYPE, text if isinstance(text, bytes) else text.encode()
        answer = self._route_now(path)
        assert answer is not None
        return answer

    def _healthz(self, health: Health) -> tuple[int, str, bytes]:
        if not health.healthy:
            log.warning("health_failed", problems=health.body["problems"])
        body = json.dumps(health.body, ensure_ascii=False).encode("utf-8")
        return (200 if health.healthy else 503), "application/json; charset=utf-8", body


class _Exchange(asyncio.Protocol):
    """One connection: one GET or HEAD, one answer, closed.

    A protocol rather than asyncio streams: a stream connection cost a task, a reader, a writer
    and a wait_for task for each of the head and the drain, ~1.1 ms of the daemon's CPU per
    /healthz under the issue 11 workload (bench/daemon.py --ping-every); here the answer is
    written from the callback that received the head (docs/benchmarks.md). One timer bounds
    each connection: HEADER_TIMEOUT_S to send the head, then as long again to take an answer
    the socket could not take at once; then it is aborted.
    """

    def __init__(self, server: HealthServer) -> None:
        self.server = server
        self.head = b""
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.answered = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server._open += 1
        if self.server._open > MAX_CONNECTIONS:
            self._send(503, "text/plain", b"busy: too many connections\n")
            return
        # Idle or slow: closed without a word.
        self.timer = asyncio.get_running_loop().call_later(HEADER_TIMEOUT_S, transport.abort)

    def data_received(self, data: bytes) -> None:
        if self.answered or self.transport is None:
            return
        self.head += data
        if b"\r\n\r\n" not in self.head:
            if len(self.head) > MAX_HEADER_BYTES:  # oversized: closed without a word
                self.transport.abort()
            return
        self.answered = True
        self.transport.pause_reading()
        parts = self.head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        if len(parts) != 3 or parts[0] not in ("GET", "HEAD"):
            self._send(405, "text/plain", b"only GET\n")
            return
        path, head_only = parts[1].split("?", 1)[0], parts[0] == "HEAD"
        try:
            answer = self.server._route_now(path)
        except Exception as exc:  # one bad request never takes the server down
            self._failed(exc)
            return
        if answer is not None:
            self._send(*answer, head_only=head_only)
            return
        task = asyncio.get_running_loop().create_task(self._later(path, head_only))
        self.server._waiting.add(task)
        task.add_done_callback(self.server._waiting.discard)

    async def _later(self, path: str, head_only: bool) -> None:
        try:
            answer = await self.server._route(path)
        except Exception as exc:
            self._failed(exc)
            return
        self._send(*answer, head_only=head_only)

    def _failed(self, exc: Exception) -> None:
        log.warning("health_request_failed", error=f"{type(exc).__name__}: {exc}")
        if self.transport is not None:
            self.transport.abort()

    def _send(self, status: int, ctype: str, body: bytes, *, head_only: bool = False) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # the client left meanwhile
        self.answered = True
        reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed",
                  503: "Service Unavailable"}.get(status, "")  # fmt: skip
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
        transport.write(head.encode("latin-1") + (b"" if head_only else body))
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if transport.get_write_buffer_size():  # a client that does not read: not forever
            self.timer = asyncio.get_running_loop().call_later(HEADER_TIMEOUT_S, transport.abort)
        transport.close()  # after what was written is sent

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._open -= 1
        self.transport = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
