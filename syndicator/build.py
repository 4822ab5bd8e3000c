"""The builders of the composition root: storage, the HTTP client, poller, channels, publisher.

Nothing else constructs engines, HTTP clients or channels; the daemon (daemon.py, runtime.py)
and the CLI call these. Split from daemon.py (house limit 400 lines), no behaviour change.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from channels import build_channel, parse_channel_settings
from channels.base import Channel, ChannelSettings, TokenSet
from syndicator import secretbox
from syndicator.config import Settings
from syndicator.logs import register_secrets
from syndicator.network import plan_for
from syndicator.parse_workers import default_processes
from syndicator.poller import Poller, utcnow
from syndicator.publishing.publisher import Listener, Publisher
from syndicator.sources.classify import ClassifierRules
from syndicator.sources.feed_session import FeedSessions
from syndicator.sources.fetch import Fetcher, build_client
from syndicator.storage import Storage, open_storage

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
    """The one httpx client for Graph, Zalo, Zalo OAuth (and feeds, unless the poller has its
    own engine: build_feed_sessions); it carries the proxy rules."""
    fetch = settings.fetch
    return build_client(
        user_agent=fetch.user_agent,
        connect_timeout=fetch.connect_timeout.total_seconds(),
        read_timeout=fetch.read_timeout.total_seconds(),
        transport=fetch.transport,
        max_connections=fetch.concurrency,
        proxy_plan=plan_for(settings),
    )


def build_feed_sessions(settings: Settings) -> FeedSessions | None:
    """The poller's own aiohttp engine for feeds (`[fetch] transport = "aiohttp"`), or None
    (`"httpx"`: feeds go through the shared client). Its builder closes it (`aclose`)."""
    fetch = settings.fetch
    if fetch.transport != "aiohttp":
        return None
    return FeedSessions(
        user_agent=fetch.user_agent,
        connect_timeout=fetch.connect_timeout.total_seconds(),
        read_timeout=fetch.read_timeout.total_seconds(),
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

    Only the young generations are collected first: a full `gc.collect()` here scanned the
    whole first-poll heap on the event loop (0.25 s for 300 feeds, /healthz waited for it;
    issue 11). Cyclic garbage already in the oldest generation is frozen with the rest; the
    poll cycle's objects are freed by reference counting, so that is little (docs/benchmarks.md).
    """
    gc.collect(1)
    gc.freeze()


def build_poller(
    settings: Settings,
    storage: Storage,
    client: httpx.AsyncClient,
    *,
    clock: Clock = utcnow,
    parse_processes: int | None = None,
    feeds: FeedSessions | None = None,
) -> Poller:
    """The poller. Whole documents are prepared in `parse_processes` worker processes
    (default: `[poll] parse_processes`, itself 1 on a machine with a second core); 0 prepares
    them in this process (docs/benchmarks.md says what each costs). Feeds are fetched through
    `feeds` (the aiohttp engine, build_feed_sessions) when given, else through `client`."""
    if parse_processes is None:
        parse_processes = settings.poll.parse_processes
    if parse_processes is None:
        parse_processes = default_processes()
    fetcher = Fetcher(
        client,
        engine=feeds,
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
        parse_processes=parse_processes,
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
    whichever bot runs now (`bot()`: a reload may replace it) and, with the Zalo surface, to
    the linked Zalo chats."""
    if settings.watch.days <= 0:
        return None
    from syndicator.publishing.watch_runner import WatchRunner

    zalo = "zalo_bot" in settings.approval.active_surfaces

    def notify(article_id: int) -> None:
        current = bot()
        if current is not None:
            from syndicator.approval import watch_buttons

            watch_buttons.notify(current, article_id)
        if zalo:  # queued in the database; the Zalo surface's tick sends it (zalo_bot/watch.py)
            from syndicator.approval.zalo_bot import watch as zalo_watch

            zalo_watch.queue_alert(storage, article_id, clock())

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
