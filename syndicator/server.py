"""The operator's HTTP listener: /healthz for monitors and /metrics for Prometheus.

It runs inside the daemon's asyncio loop (aiohttp.web), so it is only as alive as the daemon
itself: a wedged loop makes /healthz time out, which is what a monitor should see. Storage is
synchronous, so every database call runs in a worker thread with a timeout; a locked or
unreachable database turns into a 503 with a reason instead of a hung request.

/healthz is 200 when the database answers, the last poll cycle in which some portal answered
is younger than `[server] max_poll_age` (so it must exceed the longest source interval), and no channel waits for new credentials; otherwise 503. The JSON body
says which check failed. A paused (by a human) or throttled (by the service) channel is reported
but does not fail the check: neither needs the operator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import web

from syndicator import __version__
from syndicator.config import ServerSettings
from syndicator.errors import ConfigError
from syndicator.metrics import CONTENT_TYPE, Metrics, channel_state

log = structlog.get_logger("syndicator.server")

DB_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Health:
    """The outcome of the checks, and the JSON body that explains it."""

    healthy: bool
    body: dict[str, Any]


def parse_listen(value: str) -> tuple[str, int]:
    """ "127.0.0.1:9464", "[::1]:9464" or ":9464" (all interfaces) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f'server.listen: {value!r} is not "HOST:PORT" (e.g. "127.0.0.1:9464")')
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def evaluate(
    *,
    now: datetime,
    database_ok: bool,
    database_error: str | None,
    last_poll: datetime | None,
    started_at: datetime,
    max_poll_age: timedelta,
    channels: dict[str, Any],
) -> Health:
    """Decide health from what was observed; pure, so the rules are easy to read and test."""
    problems: list[str] = []
    database: dict[str, Any] = {"ok": database_ok}
    if not database_ok:
        database["error"] = database_error
        problems.append("database")

    poll: dict[str, Any] = {"max_age_s": max_poll_age.total_seconds()}
    if last_poll is None:
        # A fresh daemon gets one max_poll_age of grace before "never polled" counts as stale.
        poll["last_poll_at"] = None
        poll["ok"] = now - started_at <= max_poll_age
        poll["note"] = "no poll cycle finished yet"
    else:
        age = now - last_poll
        poll.update(last_poll_at=last_poll.isoformat(), age_s=round(age.total_seconds(), 1))
        poll["ok"] = age <= max_poll_age
    if not poll["ok"]:
        problems.append("poll")

    channel_checks: dict[str, Any] = {}
    for name, status in sorted(channels.items()):
        state = channel_state(status, now)
        entry: dict[str, Any] = {"state": state, "ok": state != "needs_credentials"}
        if status is not None and status.reason:
            entry["reason"] = status.reason
        if state == "throttled":
            entry["blocked_until"] = status.blocked_until.isoformat()
        if not entry["ok"]:
            problems.append(f"channel:{name}")
        channel_checks[name] = entry

    body = {
        "status": "ok" if not problems else "fail",
        "problems": problems,
        "version": __version__,
        "time": now.isoformat(),
        "checks": {"database": database, "poll": poll, "channels": channel_checks},
    }
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
        self.started_at = clock()
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Bind and serve; return the base URL (port 0 binds a free port, for tests)."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._index)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            msg = f"server.listen: cannot listen on {self.settings.listen}: {exc}"
            raise ConfigError(msg) from exc
        host, port = self._runner.addresses[0][:2]
        self.started_at = self.clock()
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        log.info("health_server_started", url=url)
        return url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def check(self) -> Health:
        """Run the checks now (also what `syndicator health` prints)."""
        try:
            ok, error, channels, last_poll = await asyncio.wait_for(
                asyncio.to_thread(self._read_database), DB_TIMEOUT_S
            )
        except TimeoutError:
            ok, error, channels, last_poll = (
                False, f"no answer within {DB_TIMEOUT_S:.0f} s", {}, None,
            )  # fmt: skip
        for name in self.channels:
            channels.setdefault(name, None)
        return evaluate(
            now=self.clock(),
            database_ok=ok,
            database_error=error,
            last_poll=last_poll,
            started_at=self.started_at,
            max_poll_age=self.settings.max_poll_age,
            channels=channels,
        )

    def _read_database(self) -> tuple[bool, str | None, dict[str, Any], datetime | None]:
        # In a worker thread: the last_poll callable may read storage too.
        try:
            last_poll = self.last_poll()
        except Exception:
            last_poll = None
        try:
            if not self.storage.ping():
                return False, "SELECT 1 gave an unexpected answer", {}, last_poll
            return True, None, dict(self.storage.channel_statuses()), last_poll
        except Exception as exc:  # any failure here is the answer, not a crash of the server
            return False, f"{type(exc).__name__}: {exc}", {}, last_poll

    async def _healthz(self, request: web.Request) -> web.Response:
        health = await self.check()
        if not health.healthy:
            log.warning("health_failed", problems=health.body["problems"])
        return web.json_response(health.body, status=200 if health.healthy else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        try:
            body = await asyncio.wait_for(asyncio.to_thread(self.metrics.render), DB_TIMEOUT_S)
        except TimeoutError:
            return web.Response(status=503, text="metrics: the database did not answer in time\n")
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text="syndicator: see /healthz and /metrics\n")
