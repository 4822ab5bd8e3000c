"""The composition root: reads settings, builds every part, wires them, runs them.

Nothing else constructs engines, HTTP clients or channels; the CLI calls the builders
(syndicator/build.py, re-exported here). The loops live in syndicator/runtime.py.
`python daemon.py [--config PATH]` runs the daemon (same as `syndicator run`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from syndicator import service
from syndicator.build import (
    StorageTokenStore,
    build_channels,
    build_feed_sessions,
    build_http_client,
    build_poller,
    build_publisher,
    build_rules,
    build_storage,
    build_watcher,
    channel_settings,
    settle_heap,
)
from syndicator.config import Settings
from syndicator.config_warnings import config_warnings
from syndicator.poller import utcnow
from syndicator.runtime import Runtime, zalo_start_wait
from syndicator.service import InstanceLock, sleep_or_stop, supervise
from syndicator.storage import aio

log = structlog.get_logger("syndicator.daemon")
Clock = Callable[[], datetime]


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
        await aio.call(storage.require_readable_tokens)
        async with build_http_client(settings) as client:
            # Built on the storage thread: it syncs the sources table and loads tokens (0.2 s
            # for 300 sources), and nothing blocks the loop, even before anything is served.
            runtime = await aio.call(
                Runtime, settings, storage, client, config_path=config_path, clock=clock
            )
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
                    await runtime.reload()
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
        await aio.call(storage.close)  # after the storage calls still queued
        lock.release()
        log.info("daemon_stopped")


def main(argv: list[str] | None = None) -> int:
    from syndicator.cli import main as cli_main

    args = list(sys.argv[1:] if argv is None else argv)
    return cli_main([*args, "run"])


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["UTC", "Runtime", "StorageTokenStore", "build_channels", "build_feed_sessions",
           "build_http_client", "build_poller", "build_publisher", "build_rules", "build_storage",
           "build_watcher", "channel_settings", "run", "settle_heap", "zalo_start_wait"]  # fmt: skip
