"""The composition root: reads settings, builds every part, wires them, runs them.

Nothing else constructs engines, HTTP clients or channels; the CLI calls the builders here.
`python daemon.py [--config PATH]` runs the daemon (same as `syndicator run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from channels import build_channel, parse_channel_settings
from channels.base import Channel, ChannelSettings, TokenSet
from syndicator import secretbox, service
from syndicator.botkeeper import BotKeeper, restart_keys
from syndicator.config import Settings
from syndicator.config_warnings import config_warnings
from syndicator.logs import register_secrets
from syndicator.metrics import Metrics
from syndicator.network import plan_for
from syndicator.poller import Poller, utcnow
from syndicator.publishing.publisher import Listener, Publisher
from syndicator.server import HealthServer
from syndicator.service import InstanceLock, LeaderLock, Vitals, sleep_or_stop, supervise
from syndicator.sources.classify import ClassifierRules
from syndicator.sources.fetch import Fetcher, build_client
from syndicator.storage import Storage, open_storage

log = structlog.get_logger("syndicator.daemon")
Clock = Callable[[], datetime]


def build_storage(settings: Settings, *, migrate: bool = True) -> Storage:
    storage = open_storage(
        settings.database.url,
        busy_timeout_s=settings.database.busy_timeout.total_seconds(),
        migrate=migrate,
    )
    storage.allow_plaintext_tokens = settings.security.allow_plaintext_tokens
    return storage


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    """The one client for feeds, Graph, Zalo and Zalo OAuth; it carries the proxy rules."""
    fetch = settings.fetch
    return build_client(
        user_agent=fetch.user_agent,
        connect_timeout=fetch.connect_timeout.total_seconds(),
        read_timeout=fetch.read_timeout.total_seconds(),
        transport=fetch.transport,
        max_connections=fetch.concurrency,
        proxy_plan=plan_for(settings),
    )


def build_rules(settings: Settings) -> ClassifierRules:
    return ClassifierRules.from_mapping(settings.classification)


def settle_heap() -> None:
    """Once, after the first poll cycle: collect, then freeze what is alive.

    What survives the first cycle (modules, settings, clients, the poller's per-source memory)
    lives as long as the process; frozen, the garbage collector stops re-scanning it on every
    full collection, which was about 0.09 s of each 2,000-feed cycle (docs/benchmarks.md).
    Frozen objects are still freed by reference counting when they are replaced.
    """
    gc.collect()
    gc.freeze()


def build_poller(
    settings: Settings,
    storage: Storage,
    client: httpx.AsyncClient,
    *,
    clock: Clock = utcnow,
    parse_processes: int = 0,
) -> Poller:
    """The poller. `parse_processes` > 0 parses changed feeds in that many worker processes
    (another core); 0 parses in threads (docs/benchmarks.md says when each pays)."""
    pool = None
    if parse_processes > 0:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # forkserver: never fork a process that already runs threads (asyncio, SQLite).
        pool = ProcessPoolExecutor(
            parse_processes, mp_context=multiprocessing.get_context("forkserver")
        )
    fetcher = Fetcher(
        client,
        concurrency=settings.fetch.concurrency,
        per_host=settings.fetch.per_host,
        max_body_bytes=settings.fetch.max_body_bytes,
        deadline=settings.fetch.deadline.total_seconds(),
    )
    poller = Poller(
        storage,
        fetcher,
        settings.sources,
        build_rules(settings),
        settings.poll,
        clock=clock,
        parse_pool=pool,
    )
    poller.sync()
    return poller


def channel_settings(settings: Settings) -> dict[str, ChannelSettings]:
    """Validate every [channels.*] table (ConfigError names the key); remember the secrets."""
    parsed = {name: parse_channel_settings(name, raw) for name, raw in settings.channels.items()}
    secrets: list[str | None] = [settings.approval.bot_token]
    if settings.approval.zalo_bot is not None:
        secrets += [settings.approval.zalo_bot.bot_token, settings.approval.zalo_bot.webhook_secret]
    for cfg in parsed.values():
        secrets += [
            getattr(cfg, k, None)
            for k in ("access_token", "app_secret", "secret_key", "refresh_token")
        ]
    register_secrets(secrets)
    return parsed


class StorageTokenStore:
    """channels.base.TokenStore over the database (rotated Zalo pairs are committed here)."""

    def __init__(self, storage: Storage, clock: Clock = utcnow) -> None:
        # Before any refresh spends a single-use Zalo token: its successor must be storable.
        secretbox.require_key(storage.allow_plaintext_tokens)
        self.storage = storage
        self.clock = clock

    def load(self, channel: str) -> TokenSet | None:
        stored = self.storage.load_tokens(channel)
        if stored is None or not stored.refresh_token:
            return None
        register_secrets([stored.access_token, stored.refresh_token])
        return TokenSet(
            access_token=stored.access_token or "",
            refresh_token=stored.refresh_token,
            access_expires_at=stored.access_expires_at,
            refresh_obtained_at=stored.refresh_obtained_at or self.clock(),
        )

    def save(self, channel: str, tokens: TokenSet) -> None:
        register_secrets([tokens.access_token, tokens.refresh_token])
        self.storage.save_tokens(
            channel,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_expires_at=tokens.access_expires_at,
            refresh_obtained_at=tokens.refresh_obtained_at,
            now=self.clock(),
            audit_as="channel.token_rotated",
        )


def build_channels(
    settings: Settings,
    storage: Storage,
    client: httpx.AsyncClient,
    *,
    clock: Clock = utcnow,
    may_refresh: bool = True,
) -> dict[str, Channel]:
    """Every configured channel, with a Page token set at run time taking precedence.
    `may_refresh=False` builds channels that never refresh Zalo tokens (`channels check`)."""
    store: StorageTokenStore | None = None
    out: dict[str, Channel] = {}
    for name, cfg in channel_settings(settings).items():
        if cfg.kind == "facebook_page":  # type: ignore[attr-defined]
            stored = storage.load_tokens(name)
            if stored is not None and stored.access_token:
                register_secrets([stored.access_token])
                cfg = cfg.model_copy(update={"access_token": stored.access_token})
            out[name] = build_channel(name, cfg, client=client, clock=clock)
            continue
        # Rotating tokens (Zalo) are stored at every refresh: the store checks the key first.
        store = store or StorageTokenStore(storage, clock)
        out[name] = build_channel(
            name, cfg, client=client, token_store=store, clock=clock, may_refresh=may_refresh
        )
    return out


def build_watcher(
    settings: Settings, storage: Storage, fetcher: Fetcher, bot: Callable[[], Any], clock: Clock
) -> Any:
    """The watcher of published articles ([watch]); alerts go to the Telegram staff chat of
    whichever bot runs now (`bot()`: a reload may replace it)."""
    if settings.watch.days <= 0:
        return None
    from syndicator.publishing.watch_runner import WatchRunner

    def notify(article_id: int) -> None:
        current = bot()
        if current is not None:
            from syndicator.approval import watch_buttons

            watch_buttons.notify(current, article_id)

    w = settings.watch
    return WatchRunner(
        storage, fetcher, days=timedelta(days=w.days), check_every=w.check_every,
        threshold=w.threshold, clock=clock, notify=notify,
    )  # fmt: skip


def build_publisher(
    settings: Settings,
    storage: Storage,
    channels: dict[str, Channel],
    *,
    clock: Clock = utcnow,
    listener: Listener | None = None,
) -> Publisher:
    return Publisher(
        storage, channels, settings.publishing, settings.approval, clock=clock, listener=listener
    )


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
        self.poller = build_poller(settings, storage, client, clock=clock)
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
        # back by the publishing interval (issue 11). A CLI decision waits for the next turn.
        self.wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
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
        if self.keeper is not None:
            await self.keeper.stop()
        if self.zalo is not None and self._zalo_started:
            with contextlib.suppress(Exception):
                await self.zalo.stop()
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
                ticks += 1
                # After the first wave of polls: every source polled once, or nothing left in
                # flight (or a minute, if a slow source never ends). With 2,000 feeds the
                # first sources are due again before the last finish, so "nothing in flight"
                # came only at the minute, inside the steady state (issue 11).
                settle = poller.polled_all or (reports and not poller.in_flight)
                if not settled and (settle or ticks >= 60):
                    settle_heap()
                    settled = True
                await sleep_or_stop(stop, 1.0)
        finally:
            await poller.close()

    async def publish_loop(self, stop: asyncio.Event) -> None:
        if not await self.lead(stop):
            return
        # Start-up: whatever a previous run left in "publishing" is reconciled before any send.
        await self.publisher.reconcile_all(startup=True)
        self._loop = asyncio.get_running_loop()
        while not stop.is_set():
            self.wake.clear()
            await self.publisher.run_once()
            await self._nap(stop, self.settings.publishing.interval.total_seconds())

    async def watch_loop(self, stop: asyncio.Event) -> None:
        """Published articles watched for changes and withdrawals, on the leader only."""
        if self.watcher is None or not await self.lead(stop):
            return
        while not stop.is_set():
            await self.watcher.run_once()
            await sleep_or_stop(stop, self.settings.watch.interval.total_seconds())

    def _wake_publisher(self, _article_id: int) -> None:
        """Decisions listener; thread-safe, since a decision may be made off the loop."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.wake.set)

    async def _nap(self, stop: asyncio.Event, seconds: float) -> None:
        """Until the next turn: `seconds`, or sooner when stopping or a decision was made."""
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self.wake.wait())]
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
                await asyncio.to_thread(expire_due, self.storage, expire_after, self.clock())
            except Exception:
                log.exception("expiry_failed")
            await sleep_or_stop(stop, 10.0)

    async def _zalo_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._zalo_tick()
            await sleep_or_stop(stop, 2.0)

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

    def reload(self) -> bool:
        """Re-read the config; keep the old one (and say why) when the new one is bad."""
        from syndicator.config import config_path, load_config

        path = config_path(self.config_path)
        try:
            fresh = load_config(path)
            channels = build_channels(fresh, self.storage, self.client, clock=self.clock)
            poller = build_poller(fresh, self.storage, self.client, clock=self.clock)
        except Exception as exc:
            log.error("reload_rejected", config=str(path), reason=str(exc))
            self.storage.record_event("config.reload_rejected", actor="daemon",
                                      data={"reason": str(exc)[:500]}, now=self.clock())  # fmt: skip
            return False
        self.settings, self.poller, self.channels = fresh, poller, channels
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
        self.storage.record_event(
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


async def run(
    settings: Settings,
    *,
    config_path: str | None = None,
    stop: asyncio.Event | None = None,
    clock: Clock = utcnow,
) -> None:
    """Run until SIGTERM/SIGINT (or `stop`): poll, plan, approve, publish; SIGHUP reloads."""
    stop = stop or asyncio.Event()
    reload = asyncio.Event()
    lock = InstanceLock(settings.database.url)
    lock.acquire()
    uninstall = service.install_signals(stop, reload)
    storage = build_storage(settings)
    try:
        storage.require_readable_tokens()
        async with build_http_client(settings) as client:
            runtime = Runtime(settings, storage, client, config_path=config_path, clock=clock)
            await runtime.start()
            log.info("daemon_started", sources=len(runtime.poller.sources),
                     channels=sorted(runtime.channels), approval=settings.approval.mode)  # fmt: skip
            for warning in config_warnings(settings):  # e.g. auto-approval with no human
                log.warning("config_warning", warning=warning)
            # Each loop alone: the publisher never waits for the bot, nor the poller for either.
            loops = {"poller": runtime.poll_loop, "publisher": runtime.publish_loop,
                     "approval": runtime.approval_loop, "audit": runtime.audit_loop,
                     "watch": runtime.watch_loop}  # fmt: skip
            tasks = [asyncio.create_task(supervise(n, w, stop, vitals=runtime.vitals), name=n)
                     for n, w in loops.items()]  # fmt: skip
            while not stop.is_set():
                await sleep_or_stop(stop, 0.5)
                if reload.is_set():
                    reload.clear()
                    runtime.reload()
            log.info("daemon_stopping")
            # In-flight work gets a few seconds; a publish cut short stays "publishing" and is
            # reconciled at the next start, so cancelling is safe.
            _done, pending = await asyncio.wait(tasks, timeout=7.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await runtime.stop()
    finally:
        uninstall()
        storage.close()
        lock.release()
        log.info("daemon_stopped")


def main(argv: list[str] | None = None) -> int:
    from syndicator.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    return cli_main([*args, "run"])


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["UTC", "build_channels", "build_http_client", "build_poller", "build_publisher",
           "build_storage", "channel_settings", "run"]  # fmt: skip
