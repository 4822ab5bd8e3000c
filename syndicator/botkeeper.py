"""Keeps the approval bot running beside publishing, never in front of it.

Telegram is blocked by Vietnamese ISPs (since May 2025), and a bot token can be wrong or
revoked. None of that may stop Facebook and Zalo from publishing what is already approved, so
the bot is started here, in its own task, with capped backoff: the first failure is one
`telegram_unreachable` error line (no traceback) and a /healthz problem; retries are quiet;
`telegram_reachable` says when it works again.

python-telegram-bot's polling loop retries timeouts silently and aborts on a revoked token, so
while running, a cheap getMe every PROBE_EVERY seconds tells whether Telegram still answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
from telegram.error import InvalidToken, NetworkError, TelegramError, TimedOut

from syndicator.service import Vitals, sleep_aligned, sleep_or_stop

log = structlog.get_logger("syndicator.approval")

RETRY_FIRST = 5.0
RETRY_MAX = 300.0
PROBE_EVERY = 60.0
PROBE_WHILE_DOWN = 20.0
TICK = 2.0


def restart_keys(old: Any, new: Any) -> list[str]:
    """Settings a reload cannot apply, because the Telegram application and the HTTP clients
    were built with them: the daemon names them (`reload_needs_restart`)."""
    keys = [f"approval.{k}" for k in ("mode", "bot_token", "chat_id", "admin_chat_id", "api_base")
            if getattr(old.approval, k) != getattr(new.approval, k)]  # fmt: skip
    if old.network != new.network:
        keys.append("network.proxy")
    # The HTTP clients (the shared httpx one and the feeds' aiohttp engine) keep these; the
    # rest of [fetch] (deadline, caps, concurrency limits) goes into each rebuilt fetcher.
    keys += [f"fetch.{k}" for k in ("user_agent", "connect_timeout", "read_timeout", "transport")
             if getattr(old.fetch, k) != getattr(new.fetch, k)]  # fmt: skip
    return keys


def describe(exc: BaseException, api_base: str) -> str:
    """One line an IT officer can act on."""
    if isinstance(exc, InvalidToken):
        return "Telegram refused the bot token: check [approval] bot_token (@BotFather)"
    if isinstance(exc, TimedOut | NetworkError):
        return (
            f"cannot reach Telegram at {api_base}: {exc} (blocked in Vietnam since May 2025: "
            "set [network] proxy, docs/operations.md section Proxy)"
        )
    return f"{type(exc).__name__}: {exc}"[:300]


class BotKeeper:
    """Starts, ticks and watches one ApprovalBot; publishing never waits for it."""

    def __init__(self, bot: Any, vitals: Vitals, clock: Callable[[], datetime]) -> None:
        self.bot = bot
        self.vitals = vitals
        self.clock = clock
        self.started = False
        self._probed = 0.0

    @property
    def api_base(self) -> str:
        return str(self.bot.cfg.api_base)

    async def run(self, stop: asyncio.Event) -> None:
        """The approval task: (re)start the bot with backoff, then tick and probe."""
        delay = RETRY_FIRST
        while not stop.is_set():
            if not self.started:
                try:
                    await self.bot.start(error_callback=self.polling_failed)
                except Exception as exc:  # any start failure: say it once, retry later
                    self.down(describe(exc, self.api_base), retry_in=delay)
                    await sleep_or_stop(stop, delay)
                    delay = min(delay * 2, RETRY_MAX)
                    continue
                self.started, delay = True, RETRY_FIRST
                self._probed = time.monotonic()
                self.up()
            await self.bot.tick(self.clock())
            await self.probe()
            await sleep_aligned(stop, TICK)  # with the other periodic loops

    async def probe(self) -> None:
        every = PROBE_WHILE_DOWN if self.vitals.telegram else PROBE_EVERY
        if time.monotonic() - self._probed < every:
            return
        self._probed = time.monotonic()
        try:
            await self.bot.app.bot.get_me()
        except TelegramError as exc:
            self.down(describe(exc, self.api_base))
            if isinstance(exc, InvalidToken):  # polling has stopped: start afresh, with backoff
                await self.stop()
            return
        self.up()

    def polling_failed(self, exc: TelegramError) -> None:
        """python-telegram-bot's error_callback for getUpdates (must not raise)."""
        self.down(describe(exc, self.api_base))

    def down(self, reason: str, retry_in: float | None = None) -> None:
        if self.vitals.telegram is None:
            log.error("telegram_unreachable", reason=reason, retry_in=retry_in)
            self.vitals.telegram_since = self.clock()
        else:
            log.debug("telegram_still_unreachable", reason=reason, retry_in=retry_in)
        self.vitals.telegram = reason

    def up(self) -> None:
        if self.vitals.telegram is not None:
            log.info("telegram_reachable", down_since=str(self.vitals.telegram_since))
        self.vitals.telegram = None
        self.vitals.telegram_since = None

    async def stop(self) -> None:
        if self.started:
            self.started = False
            try:
                await self.bot.stop()
            except Exception as exc:  # shutting down: say it, do not raise
                log.warning("approval_bot_stop_failed", error=f"{type(exc).__name__}: {exc}")

    def reconfigure(self, fresh: Any, channels: Mapping[str, Any]) -> None:
        """After a reload: who may decide, the channels and the timings apply at once."""
        bot, cfg = self.bot, fresh.approval
        bot.settings, bot.cfg = fresh, cfg
        bot.channels = dict(channels)
        bot.kinds = {name: getattr(ch, "kind", "") for name, ch in channels.items()}
        bot.admins = set(cfg.admins)
        bot.approvers = set(cfg.approvers) | bot.admins

    async def on_post_event(self, what: str, record: Any) -> None:
        """The publisher's listener: refresh previews only while the bot is up."""
        if self.started:
            await self.bot.on_post_event(what, record)
