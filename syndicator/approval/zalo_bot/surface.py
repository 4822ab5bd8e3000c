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
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from syndicator.approval import plain
from syndicator.approval.decisions import Action, Actor, Decisions, Request
from syndicator.approval.edits import EditRule, default_rules
from syndicator.approval.preview import is_open, local_time
from syndicator.approval.reminders import is_urgent
from syndicator.approval.texts import KIND_NAMES
from syndicator.approval.when import parse_when
from syndicator.approval.zalo_bot import render
from syndicator.approval.zalo_bot import texts as T
from syndicator.approval.zalo_bot.client import (
    AuthError,
    TransportError,
    ZaloBotClient,
    ZaloBotError,
)
from syndicator.approval.zalo_bot.commands import Command, parse
from syndicator.approval.zalo_bot.naming import name_of, revision_of
from syndicator.config import Settings
from syndicator.storage import PostRecord, Storage
from syndicator.storage.approvers import Identity, ZaloPreview
from syndicator.types import PostStatus

if TYPE_CHECKING:
    from channels.base import Channel

S = PostStatus
SURFACE = "zalo_bot"
FINAL = (S.PUBLISHED, S.FAILED, S.NEEDS_HUMAN, S.REJECTED, S.EXPIRED, S.SKIPPED)
ALERT_AFTER = 5  # failed attempts on one preview before it is audited (once)
log = structlog.get_logger("syndicator.approval.zalo_bot")


def utcnow() -> datetime:
    return datetime.now(UTC)


class ZaloBotSurface:
    def __init__(
        self, settings: Settings, storage: Storage, channels: Mapping[str, Channel],
        http: httpx.AsyncClient, *, clock: Callable[[], datetime] = utcnow,
        edit_rules: Mapping[str, EditRule] | None = None,
    ) -> None:  # fmt: skip
        cfg = settings.approval.zalo_bot
        if cfg is None:
            raise ValueError('surfaces = ["zalo_bot"] needs an [approval.zalo_bot] table')
        self.cfg, self.storage, self.clock = cfg, storage, clock
        self.approval = settings.approval
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
            outcome = self.storage.redeem_link_code(
                command.text, surface=SURFACE, user_id=user_id, chat_id=chat_id,
                display_name=name, now=now,
            )  # fmt: skip
            if outcome.status == "linked" and outcome.approver is not None:
                return T.LINKED.format(name=outcome.approver.name)
            return T.LINK_REFUSED[outcome.status]
        ident = self.storage.find_identity(SURFACE, user_id)
        actor = Actor(SURFACE, user_id, ident.approver_name if ident else name)
        if command.kind in ("help", "unknown", "waiting", "status") and ident is None:
            return T.NOT_LINKED
        if command.kind == "help":
            return T.HELP
        if command.kind == "unknown":
            return T.UNKNOWN.format(text=command.text[:40]) + "\n\n" + T.HELP
        if command.kind == "waiting":
            return self._waiting()
        if command.kind == "status":
            return self._status()
        assert command.article_id is not None
        from syndicator.approval.zalo_bot import fixes  # it imports this module

        if fixes.wants(self, command):  # a correction of a published post
            return await fixes.answer(self, command, actor, ident is not None, now)
        return await self._decide(command, actor, chat_id, ident, now)

    async def _decide(
        self, command: Command, actor: Actor, chat_id: str, ident: Identity | None, now: datetime
    ) -> str:
        n = command.article_id
        assert n is not None
        channel = self._channel(n, command.kind_of_channel)
        if command.kind_of_channel and channel is None:
            label = KIND_NAMES.get(command.kind_of_channel, command.kind_of_channel)
            return T.NO_CHANNEL.format(n=n, label=label)
        when = None
        if command.kind == "schedule":
            try:
                when = parse_when(command.text, now)
            except ValueError:
                return T.TIME_INVALID.format(text=command.text[:40])
        shown = self.storage.zalo_previews(article_id=n, chat_id=chat_id)
        action = {"approve": Action.APPROVE, "reject": Action.REJECT, "edit": Action.EDIT,
                  "schedule": Action.SCHEDULE}[command.kind]  # fmt: skip
        request = Request(action, n, channel=channel, text=command.text or None, when=when,
                          revision=shown[0].revision if shown else None)  # fmt: skip
        result = self.decisions.apply(request, actor, now)
        if result.status == "refused":  # the core's answer names Telegram's /whoami
            return T.REFUSED + ("\n" + T.NOT_LINKED if ident is None else "")
        if result.status == "stale" or (result.status == "done" and action == Action.EDIT):
            self._resend(n, chat_id, ident, again=True)
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
        """New previews, follow-up notes, any part still to send, then reminders and alerts."""
        for step in (self.queue_previews, self.follow_up, self.deliver_due, self.duties.run):
            try:
                await step(now)
            except Exception:
                log.exception("zalo_bot_tick_failed", step=step.__name__)

    async def on_post_event(self, what: str, record: PostRecord) -> None:
        """Publisher listener: links go out as soon as an article is fully published."""
        await self.follow_up(self.clock(), article_id=record.article_id)

    async def queue_previews(self, now: datetime) -> None:
        identities = self.storage.linked_identities(SURFACE)
        if not identities:
            return
        article_ids = self.storage.open_article_ids()
        have = self.storage.zalo_preview_keys(article_ids)
        for article_id in article_ids:
            missing = [i for i in identities if (article_id, i.chat_id) not in have]
            if not missing:
                continue
            built = self._build(article_id)
            if built is None:
                continue
            revision, parts = built
            for ident in missing:
                self.storage.claim_zalo_preview(
                    article_id, ident.approver_id, ident.chat_id, revision=revision,
                    parts=parts, now=now,
                )  # fmt: skip

    def _build(
        self, article_id: int, *, again: bool = False
    ) -> tuple[str, list[dict[str, Any]]] | None:
        article = self.storage.get_article(article_id)
        posts = self.storage.list_posts(article_id=article_id)
        if article is None or not is_open(posts):
            return None
        order = {name: i for i, name in enumerate(self.channels)}
        posts.sort(key=lambda p: (order.get(p.channel, len(order)), p.id))
        urgent = is_urgent(article, self.approval)  # the same rule as the Telegram preview
        return revision_of(posts), render.parts(article, posts, self.kinds, urgent=urgent,
                                                again=again)  # fmt: skip

    def _resend(
        self, article_id: int, chat_id: str, ident: Identity | None, *, again: bool
    ) -> None:
        """Queue the newest version of a preview to one chat (sent by deliver_due)."""
        built = self._build(article_id, again=again)
        if built is None:
            return
        revision, parts = built
        rows = self.storage.zalo_previews(article_id=article_id, chat_id=chat_id)
        now = self.clock()
        if rows:
            self.storage.restart_zalo_preview(rows[0].id, revision=revision, parts=parts, now=now)
        elif ident is not None:
            self.storage.claim_zalo_preview(article_id, ident.approver_id, chat_id,
                                            revision=revision, parts=parts, now=now)  # fmt: skip

    async def deliver_due(self, now: datetime) -> None:
        """The urgent lane: previews of urgent articles go out before the others."""
        due = [p for p in self.storage.zalo_previews(states=("sending",))
               if p.next_try_at is None or p.next_try_at <= now]  # fmt: skip
        urgent: dict[int, bool] = {}
        for preview in due:
            if preview.article_id not in urgent:
                article = self.storage.get_article(preview.article_id)
                urgent[preview.article_id] = bool(article and is_urgent(article, self.approval))
        for preview in sorted(due, key=lambda p: (not urgent[p.article_id], p.id)):
            await self.deliver(preview)

    async def deliver(self, preview: ZaloPreview) -> None:
        """Send the parts not yet delivered; a failure waits and resumes at the same part."""
        for part in preview.parts[preview.parts_sent :]:
            if not is_open(self.storage.list_posts(article_id=preview.article_id)):
                self.storage.set_zalo_preview(preview.id, state="open", now=self.clock())
                return  # decided meanwhile: follow_up sends the note instead
            try:
                message_id = await self._send_part(preview.chat_id, part)
            except (ZaloBotError, TransportError) as exc:
                now = self.clock()
                wait = timedelta(seconds=min(3600, 10 * 2 ** (preview.attempts + 1)))
                attempts = self.storage.zalo_preview_failed(preview.id, str(exc),
                                                            retry_at=now + wait, now=now)  # fmt: skip
                log.warning("zalo_preview_failed", article=preview.article_id, error=str(exc))
                if attempts == ALERT_AFTER:
                    self.storage.record_event(
                        "zalo_bot.preview_failed", actor="approval",
                        subject=f"article:{preview.article_id}",
                        data={"chat_id": preview.chat_id, "error": str(exc)[:300]}, now=now,
                    )  # fmt: skip
                return
            self.storage.zalo_part_sent(preview.id, message_id, self.clock())

    async def _send_part(self, chat_id: str, part: dict[str, Any]) -> str:
        if "photo" in part:
            try:
                return await self._paced(chat_id, self.client.send_photo(
                    chat_id, part["photo"], part.get("caption")))  # fmt: skip
            except ZaloBotError as exc:  # the image could not be used: the text goes alone
                log.warning("zalo_photo_refused", error=str(exc))
                text = f"{part.get('caption') or ''}\n\n{T.IMAGE.format(url=part['photo'])}"
                return await self._paced(chat_id, self.client.send_message(chat_id, text[:2000]))
        return await self._paced(chat_id, self.client.send_message(chat_id, part["text"]))

    async def say(self, chat_id: str, text: str) -> None:
        """A reply, split like previews; failures are logged (the person can ask again)."""
        for piece in render.split_text(text):
            try:
                await self._paced(chat_id, self.client.send_message(chat_id, piece))
            except (ZaloBotError, TransportError) as exc:
                log.error("zalo_reply_failed", chat=chat_id, error=str(exc))
                return

    async def _paced(self, chat_id: str, call: Any) -> str:
        """At most one message per send_interval to a chat (Zalo publishes no limit)."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            wait = self._last_send.get(chat_id, 0.0) + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return str(await call)
            finally:
                self._last_send[chat_id] = time.monotonic()

    # -- follow-ups --------------------------------------------------------------------------

    async def follow_up(self, now: datetime, *, article_id: int | None = None) -> None:
        """Decided elsewhere → a note; published → links; changed → the new version."""
        previews = self.storage.zalo_previews(states=("sending", "open"), article_id=article_id)
        posts_of: dict[int, list[PostRecord]] = {}
        for preview in previews:
            posts = posts_of.setdefault(
                preview.article_id, self.storage.list_posts(article_id=preview.article_id)
            )
            if is_open(posts):
                if preview.state == "open" and revision_of(posts) != preview.revision:
                    self._resend(preview.article_id, preview.chat_id, None, again=True)
                continue
            await self._after_decision(preview, posts, now)

    async def _after_decision(
        self, preview: ZaloPreview, posts: list[PostRecord], now: datetime
    ) -> None:
        n, chat = preview.article_id, preview.chat_id
        deciders = [p for p in posts if p.decided_by and p.status not in (S.PENDING, S.HELD)]
        last = max(deciders, key=lambda p: p.decided_at or now) if deciders else None
        mine = bool(last and (last.decided_by or "").startswith(f"{SURFACE}:{chat} "))
        if preview.note is None:
            if not mine and preview.parts_sent > 0 and last is not None:
                await self.say(chat, T.DECIDED_NOTE.format(
                    n=n, who=name_of(last.decided_by), verb=T.VERBS.get(last.status.value, "xử lý"),
                    when=local_time(last.decided_at or now)))  # fmt: skip
            self.storage.set_zalo_preview(preview.id, note="decided", state="open", now=now)
        if not all(p.status in FINAL for p in posts):
            return  # approved or scheduled: the links come when it is published
        published = [p for p in posts if p.status == S.PUBLISHED]
        if published and preview.note != "published" and (mine or preview.parts_sent > 0):
            lines = []
            for post in posts:
                label = KIND_NAMES.get(self.kinds.get(post.channel, ""), post.channel)
                if post.status == S.PUBLISHED:
                    lines.append(T.LINK_LINE.format(label=label, url=post.permalink)
                                 if post.permalink else
                                 T.LINK_NO_URL.format(label=label, external_id=post.external_id))  # fmt: skip
                elif post.status in (S.FAILED, S.NEEDS_HUMAN):
                    lines.append(T.FAILED_NOTE.format(n=n, label=label,
                                                      error=plain.post_error(post.error_class)))  # fmt: skip
            who = name_of(last.decided_by if last else None)
            text = (T.PUBLISHED_MINE if mine else T.PUBLISHED_NOTE).format(
                n=n, who=who, links="\n".join(lines)
            )
            await self.say(chat, text)
        self.storage.set_zalo_preview(preview.id, note="published" if published else "decided",
                                      state="closed", now=now)  # fmt: skip
