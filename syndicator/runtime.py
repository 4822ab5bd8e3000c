"""The running daemon: its loops (poll, publish, approval, audit, watch), leadership, reload.

`Runtime` holds everything `syndicator run` runs and rebuilds it in place on SIGHUP; daemon.py
creates it and supervises its loops. Split from daemon.py (house limit 400 lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog

from syndicator import service
from syndicator.botkeeper import BotKeeper, restart_keys
from syndicator.build import (
    build_channels,
    build_feed_sessions,
    build_poller,
    build_publisher,
    build_watcher,
    settle_heap,
)
from syndicator.config import Settings
from syndicator.decision_watch import DecisionWatch
from syndicator.metrics import Metrics
from syndicator.poller import utcnow
from syndicator.server import HealthServer
from syndicator.service import LeaderLock, Vitals, aligned, sleep_aligned, sleep_or_stop
from syndicator.storage import Storage, aio

log = structlog.get_logger("syndicator.daemon")

# Poll ticks (about a second each) after which the first wave counts as over even if a slow
# source never finished: the heap is settled and the audit checks begin.
FIRST_WAVE_TICKS = 60
# The audit loop waits at most this long for the first wave (a poll loop that never settles).
AUDIT_HOLD_S = 120.0
Clock = Callable[[], datetime]


def zalo_start_wait(failures: int) -> timedelta:
    """Pure: how long to wait after the n-th failed start in a row: 5 s, 10 s, ... 5 min."""
    return timedelta(seconds=min(300.0, 5.0 * 2 ** max(0, failures - 1)))


class Runtime:
    """Everything the daemon runs, rebuilt in place on SIGHUP (sources, rules, templates)."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        client: httpx.AsyncClient,
        *,
        config_path: str | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.settings_at_start = settings  # what the clients and the bot were built from
        self.storage = storage
        self.client = client
        self.config_path = config_path
        self.clock = clock
        self.bot: Any = None
        self.keeper: BotKeeper | None = None
        self.vitals = Vitals()
        # The feeds' aiohttp engine (None with transport "httpx"): built here, closed by
        # stop(), kept across reloads like the shared client.
        self.feeds = build_feed_sessions(settings)
        self.poller = build_poller(settings, storage, client, clock=clock, feeds=self.feeds)
        self.channels = build_channels(settings, storage, client, clock=clock)
        if "telegram" in settings.approval.active_surfaces:
            from syndicator.approval import build_bot

            self.bot = build_bot(settings, storage, self.channels, clock=clock)
            self.keeper = BotKeeper(self.bot, self.vitals, clock)
        self.zalo: Any = None
        self._zalo_started = False
        self._zalo_failures = 0  # failed starts in a row (the backoff's exponent)
        self._zalo_retry_at: datetime | None = None
        if "zalo_bot" in settings.approval.active_surfaces:
            from syndicator.approval.zalo_bot import build_surface

            self.zalo = build_surface(settings, storage, self.channels, client, clock=clock)
            if self.bot is not None:  # a decision on Zalo shows on the Telegram preview at once
                self.zalo.decisions.add_listener(self.bot.refresh)
        # A decision on any surface wakes the publisher at once: approval -> live is not held
        # back by the publishing interval (issue 11). A decision made by another process (the
        # CLI, another instance) reaches it through the decision watch (decision_watch.py).
        self.wake = asyncio.Event()
        # Set once the first wave of polls is over (poll_loop): the audit checks wait for it,
        # so a restart's walk of the trail's backlog does not slow its first poll (issue 11).
        self.first_wave = asyncio.Event()
        for alerts in (getattr(self.bot, "alerts", None),
                       getattr(getattr(self.zalo, "duties", None), "alerts", None)):  # fmt: skip
            if alerts is not None:
                alerts.ready = self.first_wave.is_set
        # Set by a poll that stored new articles: they are planned at once (Publisher.plan_new).
        self.stored = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.decision_watch: DecisionWatch | None = None  # started by the publisher loop
        for surface in (self.bot, self.zalo):
            if surface is not None:
                surface.decisions.add_listener(self._wake_publisher)
        self.metrics = Metrics(storage, channels=list(self.channels), clock=clock)
        surfaces = [s.on_post_event for s in (self.keeper, self.zalo) if s is not None]

        async def bot_listener(what: str, record: Any) -> None:
            for listener in surfaces:
                await listener(what, record)

        self.publisher = build_publisher(
            settings, storage, self.channels, clock=clock,
            listener=self.metrics.listening(bot_listener if surfaces else None),
        )  # fmt: skip
        # The poller plans what it stores, in the same transaction (storage/plan_batch.py,
        # plan_fresh), with the publisher's channels and rules; reload() sets it again.
        self.poller.planner = self.publisher.plan_one
        self.health: HealthServer | None = None
        if settings.server.listen:
            self.health = HealthServer(
                settings.server, storage, self.metrics, clock, vitals=self.vitals
            )
            self.health.reconfigure(settings, self.pacing())

        self.watcher = build_watcher(
            settings, storage, self.poller.fetcher, lambda: self.keeper.bot if self.keeper else None,
            clock,
        )  # fmt: skip
        self.leader = LeaderLock(storage.engine)
        self._leading = asyncio.Lock()  # the publisher and approval loops both ask

    def pacing(self) -> dict[str, Any]:
        return {name: ch.settings for name, ch in self.channels.items()}

    async def audit_loop(self, stop: asyncio.Event) -> None:
        every = self.settings.approval.verify_every.total_seconds()
        # After the first wave (within FIRST_WAVE_TICKS of the start), or at most this long.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.first_wave.wait(), AUDIT_HOLD_S)
        await service.watch_audit(self.storage, self.vitals, every, stop)

    async def start(self) -> None:
        if self.health is not None:
            url = await self.health.start()
            log.info("health_listening", url=url)

    async def lead(self, stop: asyncio.Event) -> bool:
        """Wait until this daemon leads (at once on SQLite)."""
        while not stop.is_set():
            async with self._leading:
                if self.leader.is_leader or await asyncio.to_thread(self.leader.try_acquire):
                    return True
            await sleep_or_stop(stop, 15.0)
        return False

    async def stop(self) -> None:
        if self.feeds is not None:  # first: the loops that fetch have ended; nothing can skip it
            await self.feeds.aclose()
        if self.keeper is not None:
            await self.keeper.stop()
        if self.zalo is not None and self._zalo_started:
            with contextlib.suppress(Exception):
                await self.zalo.stop()
        if self.decision_watch is not None:
            await asyncio.to_thread(self.decision_watch.stop)
            self.decision_watch = None
        self.leader.release()
        if self.health is not None:
            with contextlib.suppress(Exception):
                await self.health.stop()

    async def poll_loop(self, stop: asyncio.Event) -> None:
        # poll_due() starts each due source in its own task and returns what finished, so a
        # slow portal never delays the others (no cycle barrier).
        settled, ticks = False, 0
        poller = self.poller
        try:
            while not stop.is_set():
                if poller is not self.poller:  # reloaded: the old one's polls end here
                    await poller.close()
                    poller = self.poller
                reports = await poller.poll_due()
                self.metrics.poll_cycle(reports)
                if any(report.sendable for report in reports):
                    self.wake.set()  # planned as stored, one ready to go: a publisher turn
                elif any(report.unplanned for report in reports):
                    # New articles are planned (and their previews sent) now, not at the
                    # publisher's next turn: detected -> preview is a reported figure, and a
                    # first poll is not done until its last batch is planned (issue 11).
                    self.stored.set()
                ticks += 1
                # After the first wave of polls: every source polled once, or nothing left in
                # flight (or a minute, if a slow source never ends). With 2,000 feeds the
                # first sources are due again before the last finish, so "nothing in flight"
                # came only at the minute, inside the steady state (issue 11).
                settle = poller.polled_all or (reports and not poller.in_flight)
                if not settled and (settle or ticks >= FIRST_WAVE_TICKS):
                    started = time.perf_counter()
                    settle_heap()
                    log.info("heap_settled", ms=round((time.perf_counter() - started) * 1000))
                    settled = True
                    self.first_wave.set()
                await sleep_aligned(stop, 1.0)  # with the other periodic loops (aligned)
        finally:
            await poller.close()

    async def publish_loop(self, stop: asyncio.Event) -> None:
        if not await self.lead(stop):
            return
        # Start-up: whatever a previous run left in "publishing" is reconciled before any send.
        await self.publisher.reconcile_all(startup=True)
        self._loop = asyncio.get_running_loop()
        if self.decision_watch is None:  # decisions made by other processes wake it too
            self.decision_watch = DecisionWatch(self.settings.database.url, self._wake_soon)
            self.decision_watch.start()
        while not stop.is_set():
            self.wake.clear()
            self.stored.clear()
            await self.publisher.run_once()
            interval = self.settings.publishing.interval.total_seconds()
            nap = self.publisher.next_send_in(interval)
            # A whole nap ends with the other periodic loops (aligned); a shorter one (a
            # send paced sooner) keeps its time.
            until = time.monotonic() + (aligned(interval) if nap >= interval else nap)
            # Until the next turn, a decision ends the nap; new articles from a poll are only
            # planned, unless one came out ready to go (auto-approved): then a turn at once.
            while not (stop.is_set() or self.wake.is_set()) and time.monotonic() < until:
                await self._nap(stop, until - time.monotonic())
                if self.stored.is_set() and not self.wake.is_set():
                    self.stored.clear()
                    if await aio.call(self.publisher.plan_new):
                        break

    async def watch_loop(self, stop: asyncio.Event) -> None:
        """Published articles watched for changes and withdrawals, on the leader only."""
        if self.watcher is None or not await self.lead(stop):
            return
        while not stop.is_set():
            await self.watcher.run_once()
            await sleep_or_stop(stop, self.settings.watch.interval.total_seconds())

    def _wake_publisher(self, _article_id: int) -> None:
        """Decisions listener; thread-safe, since a decision may be made off the loop."""
        self._wake_soon()

    def _wake_soon(self) -> None:
        """Wake the publisher from any thread (the decision watch runs in its own)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.wake.set)

    async def _nap(self, stop: asyncio.Event, seconds: float) -> None:
        """Until the next turn: `seconds`, or sooner when stopping, a decision was made or a
        poll stored new articles."""
        waits = [asyncio.create_task(e.wait()) for e in (stop, self.wake, self.stored)]
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    async def approval_loop(self, stop: asyncio.Event) -> None:
        """The bot in its own task: publishing never waits for Telegram (botkeeper.py)."""
        if (self.keeper is None and self.zalo is None) or not await self.lead(stop):
            return
        tasks = [self.keeper.run(stop)] if self.keeper is not None else []
        if self.zalo is not None:
            tasks.append(self._zalo_loop(stop))
        tasks.append(self._expiry_loop(stop))
        await asyncio.gather(*tasks)

    async def _expiry_loop(self, stop: asyncio.Event) -> None:
        """Expiry is a storage matter (approval/expiry.py): it runs on the leader whatever
        surface the staff use; each surface shows the outcome from the database."""
        from syndicator.approval.expiry import expire_due

        while not stop.is_set():
            try:
                expire_after = self.settings.approval.expire_after
                await aio.call(expire_due, self.storage, expire_after, self.clock())
            except Exception:
                log.exception("expiry_failed")
            await sleep_aligned(stop, 10.0)

    async def _zalo_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._zalo_tick()
            await sleep_aligned(stop, 2.0)

    async def _zalo_tick(self) -> None:
        """Start the Zalo surface on the leader (one getUpdates consumer), then tick it.
        A refused token or an unreachable API is retried with a capped backoff (5 s doubling
        to 5 min, zalo_start_wait) and logged once per incident; it never stops Telegram."""
        if not self._zalo_started:
            now = self.clock()
            if self._zalo_retry_at is not None and now < self._zalo_retry_at:
                return
            try:
                await self.zalo.start()
            except Exception as exc:
                if self._zalo_failures == 0:  # one line per incident, not one per attempt
                    log.error("zalo_bot_start_failed", error=str(exc)[:300])
                self._zalo_failures += 1
                self._zalo_retry_at = now + zalo_start_wait(self._zalo_failures)
                return
            if self._zalo_failures:
                log.info("zalo_bot_start_recovered", attempts=self._zalo_failures + 1)
            self._zalo_started, self._zalo_failures, self._zalo_retry_at = True, 0, None
        await self.zalo.tick(self.clock())

    def _rebuild(self, path: Any) -> tuple[Settings, dict[str, Any], Any]:
        """The new config's settings, channels and poller (blocking: reads the file, loads
        tokens and syncs the sources table; run on the storage thread)."""
        from syndicator.config import load_config

        fresh = load_config(path)
        channels = build_channels(fresh, self.storage, self.client, clock=self.clock)
        poller = build_poller(fresh, self.storage, self.client, clock=self.clock, feeds=self.feeds)
        return fresh, channels, poller

    async def reload(self) -> bool:
        """Re-read the config; keep the old one (and say why) when the new one is bad. The
        building and the audit run on the storage thread; the swap happens here, on the loop,
        between two steps of the loops that use what is swapped."""
        from syndicator.config import config_path

        path = config_path(self.config_path)
        try:
            fresh, channels, poller = await aio.call(self._rebuild, path)
        except Exception as exc:
            log.error("reload_rejected", config=str(path), reason=str(exc))
            await aio.call(self.storage.record_event, "config.reload_rejected", actor="daemon",
                           data={"reason": str(exc)[:500]}, now=self.clock())  # fmt: skip
            return False
        self.settings, self.poller, self.channels = fresh, poller, channels
        poller.planner = self.publisher.plan_one
        self.storage.allow_plaintext_tokens = fresh.security.allow_plaintext_tokens
        self.publisher.channels = dict(channels)
        if self.zalo is not None:
            self.zalo.channels = dict(channels)
        self.publisher.approval = fresh.approval
        self.publisher.settings = fresh.publishing
        self.metrics.channels[:] = list(channels)  # shared with its storage collector
        if self.health is not None:
            self.health.reconfigure(fresh, self.pacing())
        restart = restart_keys(self.settings_at_start, fresh)
        if self.keeper is not None and "telegram" in fresh.approval.active_surfaces:
            self.keeper.reconfigure(fresh, self.channels)
        log.info(
            "reloaded", config=str(path), sources=len(poller.sources), channels=sorted(channels)
        )
        if restart:
            log.warning("reload_needs_restart", keys=restart)
        await aio.call(
            self.storage.record_event,
            "config.reloaded",
            actor="daemon",
            data={
                "config": str(path), "sources": sorted(poller.sources),
                "channels": sorted(channels), "approvers": sorted(fresh.approval.approvers),
                "admins": sorted(fresh.approval.admins), "needs_restart": restart,
            },
            now=self.clock(),
        )  # fmt: skip
        return True
