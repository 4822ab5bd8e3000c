"""The composition root: reads settings, builds every part, wires them, runs them.

Nothing else constructs engines, HTTP clients or channels; the CLI calls the builders here.
`python daemon.py [--config PATH]` runs the daemon (same as `syndicator run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from channels import build_channel, parse_channel_settings
from channels.base import ChannelSettings, TokenSet
from syndicator.config import Settings
from syndicator.logs import register_secrets
from syndicator.poller import Poller, utcnow
from syndicator.publishing.publisher import Listener, Publisher
from syndicator.sources.classify import ClassifierRules
from syndicator.sources.fetch import Fetcher, build_client
from syndicator.storage import Storage, open_storage

log = structlog.get_logger("syndicator.daemon")
Clock = Callable[[], datetime]


def build_storage(settings: Settings, *, migrate: bool = True) -> Storage:
    return open_storage(
        settings.database.url,
        busy_timeout_s=settings.database.busy_timeout.total_seconds(),
        migrate=migrate,
    )


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    fetch = settings.fetch
    return build_client(
        user_agent=fetch.user_agent,
        connect_timeout=fetch.connect_timeout.total_seconds(),
        read_timeout=fetch.read_timeout.total_seconds(),
        transport=fetch.transport,
        max_connections=fetch.concurrency,
    )


def build_rules(settings: Settings) -> ClassifierRules:
    return ClassifierRules.from_mapping(settings.classification)


def build_poller(
    settings: Settings, storage: Storage, client: httpx.AsyncClient, *, clock: Clock = utcnow
) -> Poller:
    fetcher = Fetcher(
        client,
        concurrency=settings.fetch.concurrency,
        per_host=settings.fetch.per_host,
        max_body_bytes=settings.fetch.max_body_bytes,
    )
    poller = Poller(
        storage, fetcher, settings.sources, build_rules(settings), settings.poll, clock=clock
    )
    poller.sync()
    return poller


def channel_settings(settings: Settings) -> dict[str, ChannelSettings]:
    """Validate every [channels.*] table (ConfigError names the key); remember the secrets."""
    parsed = {name: parse_channel_settings(name, raw) for name, raw in settings.channels.items()}
    secrets: list[str | None] = [settings.approval.bot_token]
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
    settings: Settings, storage: Storage, client: httpx.AsyncClient, *, clock: Clock = utcnow
) -> dict[str, Any]:
    """Every configured channel, with a Page token set at run time taking precedence."""
    store = StorageTokenStore(storage, clock)
    out: dict[str, Any] = {}
    for name, cfg in channel_settings(settings).items():
        if cfg.kind == "facebook_page":  # type: ignore[attr-defined]
            stored = storage.load_tokens(name)
            if stored is not None and stored.access_token:
                register_secrets([stored.access_token])
                cfg = cfg.model_copy(update={"access_token": stored.access_token})
        out[name] = build_channel(name, cfg, client=client, token_store=store, clock=clock)
    return out


def build_publisher(
    settings: Settings,
    storage: Storage,
    channels: dict[str, Any],
    *,
    clock: Clock = utcnow,
    listener: Listener | None = None,
) -> Publisher:
    return Publisher(
        storage, channels, settings.publishing, settings.approval, clock=clock, listener=listener
    )


async def run(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set: poll due sources, plan and publish posts."""
    stop = stop or asyncio.Event()
    storage = build_storage(settings)
    async with build_http_client(settings) as client:
        poller = build_poller(settings, storage, client)
        channels = build_channels(settings, storage, client)
        publisher = build_publisher(settings, storage, channels)
        log.info("daemon_started", sources=len(poller.sources), channels=sorted(channels))
        publishing = asyncio.create_task(publisher.run(stop), name="publisher")
        while not stop.is_set():
            try:
                await poller.poll_due()
            except Exception:
                log.exception("poll_cycle_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        await publishing
    storage.close()


def main(argv: list[str] | None = None) -> int:
    from syndicator.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    return cli_main([*args, "run"])


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "UTC",
    "build_channels",
    "build_http_client",
    "build_poller",
    "build_publisher",
    "build_storage",
    "channel_settings",
    "run",
]
