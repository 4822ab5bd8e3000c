"""ApprovalBot: the PTB application and the daemon-facing verbs; the previews are in
preview_desk.py (PreviewDesk, which ApprovalBot inherits).

The bot runs inside the daemon's loop: start() initialises and starts the Application and its
updater itself (no run_polling), tick(now) is called by the daemon's scheduler, and
on_post_event() is the publisher's listener. All approval state lives in the database, so a
new bot on the same database carries on where the old one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from telegram import (
    BotCommand,
    LinkPreviewOptions,
)
from telegram.constants import ParseMode
from telegram.error import NetworkError, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from syndicator.approval import heartbeat, report_cmd
from syndicator.approval import texts as T
from syndicator.approval.alerts import Alerts
from syndicator.approval.decisions import Actor, Decisions
from syndicator.approval.edits import EditRule, default_rules
from syndicator.approval.preview import (
    TEXT_MAX,
    Keyboard,
)
from syndicator.approval.preview_desk import (
    PreviewDesk,
    link_preview,
    markup,
    not_modified,
    on_loop,
)
from syndicator.approval.reminders import Reminders
from syndicator.approval.sendqueue import URGENT, SendQueue
from syndicator.approval.unconfirmed import Unconfirmed
from syndicator.config import Settings
from syndicator.network import telegram_proxy
from syndicator.storage import PostRecord, Storage, aio

if TYPE_CHECKING:
    from channels.base import Channel

log = structlog.get_logger("syndicator.approval")
Clock = Callable[[], datetime]
ALLOWED_UPDATES = ["message", "callback_query"]
CONCURRENT_UPDATES = 8  # updates handled at once (each waits on storage, not the loop)


def utcnow() -> datetime:
    return datetime.now(UTC)


class ApprovalBot(PreviewDesk):
    """The Telegram approval workspace (see syndicator/approval/__init__.py for the design)."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        channels: Mapping[str, Channel],
        *,
        clock: Clock = utcnow,
        edit_rules: Mapping[str, EditRule] | None = None,
    ) -> None:
        cfg = settings.approval
        if not cfg.bot_token or cfg.chat_id is None:
            raise ValueError('approval.mode = "telegram" needs bot_token and chat_id')
        self.settings, self.cfg, self.storage, self.clock = settings, cfg, storage, clock
        self.channels = dict(channels)
        self.kinds = {name: getattr(ch, "kind", "") for name, ch in self.channels.items()}
        self.rules = dict(edit_rules) if edit_rules is not None else default_rules()
        self.chat_id: int = cfg.chat_id
        self.admin_chat_id: int = cfg.alert_chat_id or cfg.chat_id
        self.admins = set(cfg.admins)
        self.approvers = set(cfg.approvers) | self.admins  # admins may decide too
        self.queue = SendQueue(
            cfg.send_interval.total_seconds(), group_limit=cfg.group_limit,
            group_window=cfg.group_window.total_seconds(),
        )  # fmt: skip
        self.menus: dict[int, str] = {}  # article id -> sub-keyboard shown (transient)
        self._shown: dict[tuple[int, int], tuple[str, Keyboard]] = {}  # skip identical edits
        self._sending: set[int] = set()  # articles whose preview is queued
        self._preview_failures: dict[int, tuple[int, datetime]] = {}  # id -> (count, retry at)
        self._loop: asyncio.AbstractEventLoop | None = None  # where refresh() schedules its work
        self._tasks: set[asyncio.Task[None]] = set()  # refreshes under way (kept referenced)
        self.decisions = Decisions(
            storage, is_approver=self._is_approver, is_admin=self._is_admin,
            edit_rules=self.rules, kinds=self.kinds, listeners=[self.refresh],
        )  # fmt: skip
        self.unconfirmed = Unconfirmed(self)
        self.alerts = Alerts(self)
        self.reminders = Reminders(self)
        self.app = self._build_application()
        self._started = False

    def _is_approver(self, actor: Actor) -> bool:
        """Listed in the config, or linked with `/lienket` (storage/approvers.py)."""
        if actor.surface != "telegram" or not actor.user_id.isdigit():
            return False
        return int(actor.user_id) in self.approvers or self._linked(actor) is not None

    def _is_admin(self, actor: Actor) -> bool:
        if actor.surface != "telegram" or not actor.user_id.isdigit():
            return False
        if int(actor.user_id) in self.admins:
            return True
        ident = self._linked(actor)
        return bool(ident and ident.is_admin)

    def _linked(self, actor: Actor) -> Any:
        return self.storage.find_identity("telegram", actor.user_id)

    def approves(self, user_id: int) -> bool:
        """Whether this Telegram user may decide (config list or a linked approver)."""
        return self._is_approver(Actor("telegram", str(user_id), ""))

    def administers(self, user_id: int) -> bool:
        return self._is_admin(Actor("telegram", str(user_id), ""))

    async def role_of(self, user_id: int) -> tuple[bool, bool]:
        """(approves, administers) from a coroutine: a linked identity is a storage read, made
        on the readers' thread so a held write lock cannot hold the answer up."""
        return await aio.read(lambda: (self.approves(user_id), self.administers(user_id)))

    # -- lifecycle -------------------------------------------------------------------------

    def _build_application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        file_base = self.cfg.file_base or self.cfg.api_base.replace("/bot", "/file/bot")
        builder = (
            ApplicationBuilder()
            .token(self.cfg.bot_token or "")
            .base_url(self.cfg.api_base)
            .base_file_url(file_base)
            .job_queue(None)
            # Updates are handled concurrently (PTB "ApplicationBuilder.concurrent_updates",
            # SimpleUpdateProcessor): a decision waiting on the storage thread for a write lock
            # must not hold up another editor's /help. Safe: every decision is a
            # compare-and-set in storage, so two concurrent taps still decide once.
            .concurrent_updates(CONCURRENT_UPDATES)
        )
        # Telegram is blocked in Vietnam: both PTB clients (getUpdates and the rest) go through
        # the proxy the one rule picks for api_base (syndicator/network.py).
        proxy = telegram_proxy(self.settings)
        if proxy:
            builder = builder.proxy(proxy).get_updates_proxy(proxy)
        app = builder.build()
        from syndicator.approval import commands, handlers, schedule_cmd  # they import this

        chats = filters.Chat(chat_id=sorted({self.chat_id, self.admin_chat_id}))
        app.bot_data["approval"] = self
        app.add_handler(CallbackQueryHandler(handlers.on_callback))
        for name, _ in T.COMMANDS:
            if name in ("report", "lienket"):
                continue  # registered by their own modules below
            handler = getattr(commands, f"cmd_{name}", None) or getattr(schedule_cmd, f"cmd_{name}")
            # /whoami and /help answer in a private chat too: a new approver finds their id there.
            where = chats | filters.ChatType.PRIVATE if name in ("whoami", "help") else chats
            app.add_handler(CommandHandler(name, handler, filters=where))
        app.add_handler(
            MessageHandler(
                chats & filters.REPLY & filters.TEXT & ~filters.COMMAND, handlers.on_reply
            )
        )
        report_cmd.install(self, app, chats)  # /report (syndicator/approval/report_cmd.py)
        from syndicator.approval import link_cmd

        private_too = chats | filters.ChatType.PRIVATE
        app.add_handler(CommandHandler("lienket", link_cmd.cmd_lienket, filters=private_too))
        app.add_error_handler(self._on_error)
        return app

    async def start(self, error_callback: Callable[[TelegramError], None] | None = None) -> None:
        """Initialise, register the commands, start polling (long polling via api_base).

        A failure undoes what was started and raises, so the caller (syndicator/botkeeper.py)
        can simply try again later; `error_callback` gets getUpdates errors instead of PTB
        logging a traceback for each.
        """
        self._loop = asyncio.get_running_loop()
        try:
            await self.app.initialize()
            with contextlib.suppress(NetworkError):  # commands are a nicety; never block start
                await self.app.bot.set_my_commands([BotCommand(c, d) for c, d in T.COMMANDS])
            await self.app.start()
            assert self.app.updater is not None
            await self.app.updater.start_polling(
                timeout=self.cfg.poll_timeout,
                allowed_updates=ALLOWED_UPDATES,
                error_callback=error_callback,
            )
        except BaseException:
            with contextlib.suppress(Exception):
                if self.app.running:
                    await self.app.stop()
                await self.app.shutdown()
            raise
        await aio.call(self.alerts.load)
        self._started = True
        log.info("approval_bot_started", chat=self.chat_id, approvers=len(self.approvers))

    async def stop(self) -> None:
        """Flush the send queue briefly, stop polling (confirming the offset), shut down."""
        if not self._started:
            return
        self._started = False
        await self.queue.close()
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one global error handler: log with context, never crash the updater."""
        log.error("approval_handler_failed", error=repr(context.error), update=str(update)[:300])

    # -- the daemon's verbs -----------------------------------------------------------------

    async def tick(self, now: datetime) -> None:
        """Send new previews, remind and expire, raise alerts; the daemon calls this often."""
        for step in (self.send_new_previews, self.reminders.run, self.alerts.run, self._heartbeat):
            try:
                await step(now)
            except Exception:
                log.exception("approval_tick_failed", step=step.__name__)

    async def _heartbeat(self, now: datetime) -> None:
        await heartbeat.run(self, now)
        await report_cmd.run_weekly(self, now)  # [reports] weekly

    async def on_post_event(self, what: str, record: PostRecord) -> None:
        """Publisher listener: show live links or the failure on the article's preview."""
        self.refresh(record.article_id)

    # -- sending helpers --------------------------------------------------------------------

    def submit(self, chat_id: int, job: Callable[[], Awaitable[None]], **options: Any) -> None:
        """`queue.submit` from any thread: work that runs on the storage thread (a watch
        alert, an edit decided there) hands its send to the loop instead of touching the
        queue from outside it."""
        loop = self._loop
        if loop is None or not loop.is_running() or on_loop(loop):
            self.queue.submit(chat_id, job, **options)
            return
        loop.call_soon_threadsafe(lambda: self.queue.submit(chat_id, job, **options))

    def say(
        self, chat_id: int, text: str, *, reply_to: int | None = None, priority: int = URGENT,
        html: bool = False, force_reply: bool = False,
        on_sent: Callable[[int], Awaitable[None] | None] | None = None,
        on_done: Callable[[], Awaitable[None] | None] | None = None,
    ) -> None:  # fmt: skip
        """Queue a plain (or HTML) message; `on_sent` gets its message id once sent,
        `on_done` runs after the attempt whatever its outcome (either may be a coroutine
        function, awaited: storage work belongs on the storage thread, not here)."""
        from telegram import ForceReply, ReplyParameters

        async def job() -> None:
            try:
                await send()
            finally:
                if on_done is not None:
                    pending = on_done()
                    if pending is not None:
                        await pending

        async def send() -> None:
            message = await self.app.bot.send_message(
                chat_id, text[:TEXT_MAX], parse_mode=ParseMode.HTML if html else None,
                reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True)
                if reply_to else None,
                reply_markup=ForceReply(selective=True) if force_reply else None,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )  # fmt: skip
            self.unconfirmed.saw(chat_id, message.message_id)
            if on_sent is not None:
                pending = on_sent(message.message_id)
                if pending is not None:  # e.g. storing a prompt: awaited, off the loop
                    await pending

        self.queue.submit(chat_id, job, priority=priority)

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until the send queue is empty (tests)."""
        await self.queue.drain(timeout)
        while self._tasks:  # refreshes still looking up their previews
            await asyncio.wait(set(self._tasks), timeout=timeout)
            await self.queue.drain(timeout)
        await asyncio.sleep(0)


__all__ = ["ApprovalBot", "link_preview", "markup", "not_modified"]
