"""ZaloBotSurface: previews sent privately to each linked approver, typed commands, follow-ups.

Runs inside the daemon's loop on the leader only (one getUpdates consumer). All state is in the
database (storage/approvers.py), so a restarted daemon resumes half-sent previews at the next
part and never sends a follow-up twice. Decisions go through the decisions core (`approval/decisions.py`
until syndicator/approval/decisions.py lands); a decision from any surface shows up here on the
next tick as a note, because Zalo messages cannot be edited.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from syndicator.approval.decisions import Action, Actor, Decisions, Request
from syndicator.approval.edits import EditRule, default_rules
from syndicator.approval.preview import is_open, local_time
from syndicator.approval.texts import KIND_NAMES
from syndicator.approval.when import parse_when
from syndicator.approval.zalo_bot import reports, watch
from syndicator.approval.zalo_bot import texts as T
from syndicator.approval.zalo_bot.client import (
    AuthError,
    TransportError,
    ZaloBotClient,
    ZaloBotError,
)
from syndicator.approval.zalo_bot.commands import Command, parse
from syndicator.approval.zalo_bot.previews import SURFACE, PreviewsMixin
from syndicator.config import Settings
from syndicator.storage import PostRecord, Storage, aio
from syndicator.storage.approvers import Identity

if TYPE_CHECKING:
    from channels.base import Channel

log = structlog.get_logger("syndicator.approval.zalo_bot")
UNSEEN = "unseen"  # the revision of a preview this chat has not been shown in full


def utcnow() -> datetime:
    return datetime.now(UTC)


class ZaloBotSurface(PreviewsMixin):
    def __init__(
        self, settings: Settings, storage: Storage, channels: Mapping[str, Channel],
        http: httpx.AsyncClient, *, clock: Callable[[], datetime] = utcnow,
        edit_rules: Mapping[str, EditRule] | None = None,
    ) -> None:  # fmt: skip
        cfg = settings.approval.zalo_bot
        if cfg is None:
            raise ValueError('surfaces = ["zalo_bot"] needs an [approval.zalo_bot] table')
        self.cfg, self.storage, self.clock = cfg, storage, clock
        self.settings, self.approval = settings, settings.approval
        self.channels = dict(channels)
        self.kinds = {name: getattr(ch, "kind", "") for name, ch in self.channels.items()}
        self.client = ZaloBotClient(http, cfg.bot_token, cfg.api_base)
        self.decisions = Decisions(
            storage, is_approver=self._is_approver, is_admin=self._is_admin,
            edit_rules=dict(edit_rules) if edit_rules is not None else default_rules(),
            kinds=self.kinds,
        )  # fmt: skip
        self.interval = cfg.send_interval.total_seconds()
        self._last_send: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._seen: deque[str] = deque(maxlen=2000)  # message ids already handled
        self._poller: asyncio.Task[None] | None = None
        self._receiver: Any = None
        self.me: dict[str, Any] = {}
        from syndicator.approval.zalo_bot.duties import ZaloDuties  # it imports this module

        self.duties = ZaloDuties(self)  # reminders and admin alerts, as in Telegram

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the token, then receive by webhook (when configured) or long polling."""
        self.me = await self.client.get_me()
        if self.cfg.webhook_url:
            from syndicator.approval.zalo_bot.webhook import WebhookReceiver

            self._receiver = WebhookReceiver(self.cfg, self.handle)
            await self._receiver.start()
            await self.client.set_webhook(self.cfg.webhook_url, self.cfg.webhook_secret or "")
        else:
            # getUpdates is refused while a webhook is set (openclaw docs: they exclude each
            # other), so a switch back from webhook mode clears it first.
            await self.client.delete_webhook()
            self._poller = asyncio.create_task(self.poll_forever(), name="zalo-bot-poll")
        log.info("zalo_bot_started", bot=self.me.get("account_name"),
                 webhook=bool(self.cfg.webhook_url))  # fmt: skip

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
            self._poller = None
        if self._receiver is not None:
            await self._receiver.stop()
            self._receiver = None

    async def poll_forever(self) -> None:
        """Long polling: one update per call; 408 is "nothing new" (client.get_update)."""
        while True:
            try:
                update = await self.client.get_update(self.cfg.poll_timeout)
            except AuthError as exc:
                log.error("zalo_bot_token_refused", error=str(exc))
                await asyncio.sleep(60)
                continue
            except (ZaloBotError, TransportError) as exc:
                log.warning("zalo_bot_poll_failed", error=str(exc))
                await asyncio.sleep(5)  # openclaw waits 5 s after a polling error
                continue
            if update is not None:
                try:
                    await self.handle(update)
                except Exception:
                    log.exception("zalo_bot_update_failed")

    # -- incoming --------------------------------------------------------------------------

    async def handle(self, update: dict[str, Any]) -> None:
        """One update from getUpdates or the webhook: a private text message is a command."""
        message = update.get("message") or {}
        chat, sender = message.get("chat") or {}, message.get("from") or {}
        text, message_id = message.get("text"), str(message.get("message_id") or "")
        if update.get("event_name") not in (None, "message.text.received") or not text:
            return
        if message_id and message_id in self._seen:
            return  # a re-delivered update (webhook retry): answered already
        if message_id:
            self._seen.append(message_id)
        chat_id, user_id = str(chat.get("id") or ""), str(sender.get("id") or "")
        if not chat_id or not user_id or chat.get("chat_type", "PRIVATE") != "PRIVATE":
            return  # a basic bot chats privately (can_join_groups: false)
        name = str(sender.get("display_name") or sender.get("name") or user_id)
        reply = await self.answer(parse(text), chat_id, user_id, name)
        await self.say(chat_id, reply)

    async def answer(self, command: Command, chat_id: str, user_id: str, name: str) -> str:
        """The reply to one command (decisions go through the decisions core)."""
        now = self.clock()
        if command.kind == "link":
            outcome = await aio.call(
                self.storage.redeem_link_code, command.text, surface=SURFACE, user_id=user_id,
                chat_id=chat_id, display_name=name, now=now,
            )  # fmt: skip
            if outcome.status == "linked" and outcome.approver is not None:
                return T.LINKED.format(name=outcome.approver.name)
            return T.LINK_REFUSED[outcome.status]
        ident = await aio.read(self.storage.find_identity, SURFACE, user_id)
        actor = Actor(SURFACE, user_id, ident.approver_name if ident else name)
        if command.kind in ("help", "unknown", "waiting", "status", "report") and ident is None:
            return T.NOT_LINKED
        if command.kind == "help":
            return T.HELP
        if command.kind == "unknown":
            return T.UNKNOWN.format(text=command.text[:40]) + "\n\n" + T.HELP
        if command.kind == "waiting":
            return await aio.read(self._waiting)
        if command.kind == "status":
            return await aio.read(self._status)
        if command.kind == "report":  # any linked person is an approver or an admin
            return await reports.answer(self, command.text)
        assert command.article_id is not None
        if command.kind.startswith("watch_"):  # a change-watch alert (zalo_bot/watch.py)
            return await watch.answer(self, command, actor, chat_id, ident is not None, now)
        from syndicator.approval.zalo_bot import fixes  # it imports this module

        if await aio.read(fixes.wants, self, command):  # a correction of a published post
            return await fixes.answer(self, command, actor, chat_id, ident is not None, now)
        return await self._decide(command, actor, chat_id, ident, now)

    async def _decide(
        self, command: Command, actor: Actor, chat_id: str, ident: Identity | None, now: datetime
    ) -> str:
        n = command.article_id
        assert n is not None
        channel = await aio.read(self._channel, n, command.kind_of_channel)
        if command.kind_of_channel and channel is None:
            label = KIND_NAMES.get(command.kind_of_channel, command.kind_of_channel)
            return T.NO_CHANNEL.format(n=n, label=label)
        when = None
        if command.kind == "schedule":
            try:
                when = parse_when(command.text, now)
            except ValueError:
                return T.TIME_INVALID.format(text=command.text[:40])
        seen = await aio.read(self._seen_revision, n, chat_id)
        action = {"approve": Action.APPROVE, "reject": Action.REJECT, "edit": Action.EDIT,
                  "schedule": Action.SCHEDULE}[command.kind]  # fmt: skip
        request = Request(action, n, channel=channel, text=command.text or None, when=when,
                          revision=seen)  # fmt: skip
        result = await self.decisions.submit(request, actor, now)
        if result.status == "refused":  # the core's answer names Telegram's /whoami
            return T.REFUSED + ("\n" + T.NOT_LINKED if ident is None else "")
        if result.status == "stale" and seen == UNSEEN:
            await aio.call(self._resend, n, chat_id, ident, again=False)
            return T.NOT_SEEN.format(n=n)
        if result.status == "stale" or (result.status == "done" and action == Action.EDIT):
            await aio.call(self._resend, n, chat_id, ident, again=True)
        if result.status == "done" and result.posts:
            return self._stamp(action, n, result.posts, actor, now, when)
        return result.message

    def _stamp(
        self, action: Action, n: int, posts: Any, actor: Actor, now: datetime,
        when: datetime | None,
    ) -> str:  # fmt: skip
        """The confirmation stamped with the person's name, on the Zalo surface's words."""
        channels = ", ".join(
            KIND_NAMES.get(self.kinds.get(p.channel, ""), p.channel) for p in posts
        )
        template = T.DONE.get(action.value)
        if template is None:
            return ""
        return template.format(
            n=n, channels=channels, who=actor.name, when=local_time(now),
            at=local_time(when) if when else "",
        )  # fmt: skip

    def _seen_revision(self, article_id: int, chat_id: str) -> str | None:
        """The revision of the preview this chat was shown in full: a decision is bound to it
        (the revision line is in the last part, so a half-sent preview is not seen yet). A
        chat shown nothing of an open article gets UNSEEN, which the core refuses as stale
        (audited `approval.stale`); a decided article gets None, so the core says who decided."""
        shown = self.storage.zalo_previews(article_id=article_id, chat_id=chat_id)
        if shown and shown[0].parts_sent >= len(shown[0].parts):
            return shown[0].revision
        return UNSEEN if is_open(self.storage.list_posts(article_id=article_id)) else None

    def _channel(self, article_id: int, kind: str | None) -> str | None:
        if kind is None:
            return None
        names = {p.channel for p in self.storage.list_posts(article_id=article_id)}
        matching = [name for name, k in self.kinds.items() if k == kind]
        return next((name for name in matching if name in names), matching[0] if matching else None)

    def _waiting(self) -> str:
        ids = self.storage.open_article_ids(limit=20)
        if not ids:
            return T.WAITING_NONE
        lines = [T.WAITING_HEAD.format(count=len(ids))]
        for article_id in ids:
            article = self.storage.get_article(article_id)
            title = article.title if article else ""
            lines.append(T.WAITING_LINE.format(n=article_id, title=title[:120]))
        return "\n".join(lines)

    def _status(self) -> str:
        counts: dict[str, list[str]] = {}
        for (channel, status), count in sorted(self.storage.post_counts().items()):
            label = KIND_NAMES.get(self.kinds.get(channel, ""), channel)
            counts.setdefault(label, []).append(f"{T.STATUS_NAMES.get(status, status)} {count}")
        if not counts:
            return T.STATUS_NONE
        lines = [T.STATUS_LINE.format(label=k, counts=", ".join(v)) for k, v in counts.items()]
        return T.STATUS.format(lines="\n".join(lines))

    # -- authorisation (the decisions core asks) --------------------------------------------

    def _is_approver(self, actor: Actor) -> bool:
        return (
            actor.surface == SURFACE
            and self.storage.find_identity(SURFACE, actor.user_id) is not None
        )

    def _is_admin(self, actor: Actor) -> bool:
        ident = (
            self.storage.find_identity(SURFACE, actor.user_id) if actor.surface == SURFACE else None
        )
        return bool(ident and ident.is_admin)

    # -- the daemon's verbs ----------------------------------------------------------------

    async def tick(self, now: datetime) -> None:
        """New previews, follow-up notes, any part still to send, reminders and alerts, the
        change-watch alerts, then the scheduled reports."""
        steps = (self.queue_previews, self.follow_up, self.deliver_due, self.duties.run,
                 self._watch_alerts, self._reports)  # fmt: skip
        for step in steps:
            try:
                await step(now)
            except Exception:
                log.exception("zalo_bot_tick_failed", step=step.__name__)

    async def _watch_alerts(self, now: datetime) -> None:
        await watch.deliver(self, now)

    async def _reports(self, now: datetime) -> None:
        await reports.run(self, now)

    async def on_post_event(self, what: str, record: PostRecord) -> None:
        """Publisher listener: links go out as soon as an article is fully published."""
        await self.follow_up(self.clock(), article_id=record.article_id)
