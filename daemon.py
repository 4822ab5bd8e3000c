"""The composition root: reads settings, builds every part, wires them, runs them.

Nothing else constructs engines, HTTP clients or channels; the CLI calls the builders here.
`python daemon.py [--config PATH]` runs the daemon (same as `syndicator run`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime

import httpx
import structlog

from syndicator.config import Settings
from syndicator.poller import Poller, utcnow
from syndicator.sources.classify import ClassifierRules
from syndicator.sources.fetch import Fetcher, build_client
from syndicator.storage import Storage, open_storage

log = structlog.get_logger("syndicator.daemon")


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
    settings: Settings,
    storage: Storage,
    client: httpx.AsyncClient,
    *,
    clock: Callable[[], datetime] = utcnow,
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


async def run(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set: poll due sources as they come due."""
    stop = stop or asyncio.Event()
    storage = build_storage(settings)
    async with build_http_client(settings) as client:
        poller = build_poller(settings, storage, client)
        log.info("daemon_started", sources=len(poller.sources))
        while not stop.is_set():
            try:
                await poller.poll_due()
            except Exception:
                log.exception("poll_cycle_failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
    storage.close()


def main(argv: list[str] | None = None) -> int:
    from syndicator.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    return cli_main([*args, "run"])


if __name__ == "__main__":
    raise SystemExit(main())
