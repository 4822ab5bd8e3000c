"""The Zalo surface's previews: queued per linked approver, sent part by part, followed up.

Split from surface.py (house limit 400 lines). Every preview's state is in the database
(storage/approvers.py): `queue_previews` claims one row per (article, approver chat),
`deliver_due` sends the parts not yet sent (urgent articles first), `follow_up` tells each chat
what happened since (decided elsewhere, published, changed), since Zalo messages cannot be
edited. The storage work of each step runs on the storage thread (`aio.call` for what writes,
`aio.read` for what only reads); the sends run on the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog

from syndicator.approval import plain
from syndicator.approval.preview import is_open, local_time
from syndicator.approval.reminders import is_urgent
from syndicator.approval.texts import KIND_NAMES
from syndicator.approval.zalo_bot import render
from syndicator.approval.zalo_bot import texts as T
from syndicator.approval.zalo_bot.client import TransportError, ZaloBotClient, ZaloBotError
from syndicator.approval.zalo_bot.naming import name_of, revision_of
from syndicator.config import ApprovalSettings
from syndicator.storage import PostRecord, Storage, aio
from syndicator.storage.approvers import Identity, ZaloPreview
from syndicator.types import PostStatus

S = PostStatus
SURFACE = "zalo_bot"
FINAL = (S.PUBLISHED, S.FAILED, S.NEEDS_HUMAN, S.REJECTED, S.EXPIRED, S.SKIPPED)
ALERT_AFTER = 5  # failed attempts on one preview before it is audited (once)
log = structlog.get_logger("syndicator.approval.zalo_bot")


class PreviewsMixin:
    """The previews half of ZaloBotSurface (which provides these attributes)."""

    storage: Storage
    clock: Callable[[], datetime]
    approval: ApprovalSettings
    channels: dict[str, Any]
    kinds: Mapping[str, str]
    client: ZaloBotClient

    interval: float  # seconds between two messages to one chat
    _last_send: dict[str, float]
    _locks: dict[str, asyncio.Lock]

    # -- queueing ----------------------------------------------------------------------------

    async def queue_previews(self, now: datetime) -> None:
        await aio.call(self._queue_previews, now)

    def _queue_previews(self, now: datetime) -> None:
        """Claim a preview row for every open article and linked chat without one (blocking)."""
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
        """Queue the newest version of a preview to one chat (sent by deliver_due); blocking."""
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

    # -- sending -----------------------------------------------------------------------------

    async def deliver_due(self, now: datetime) -> None:
        """The urgent lane: previews of urgent articles go out before the others."""
        for preview in await aio.read(self._due, now):
            await self.deliver(preview)

    def _due(self, now: datetime) -> list[ZaloPreview]:
        """Previews with parts to send now, urgent articles first (blocking: reads)."""
        due = [p for p in self.storage.zalo_previews(states=("sending",))
               if p.next_try_at is None or p.next_try_at <= now]  # fmt: skip
        urgent: dict[int, bool] = {}
        for preview in due:
            if preview.article_id not in urgent:
                article = self.storage.get_article(preview.article_id)
                urgent[preview.article_id] = bool(article and is_urgent(article, self.approval))
        return sorted(due, key=lambda p: (not urgent[p.article_id], p.id))

    async def deliver(self, preview: ZaloPreview) -> None:
        """Send the parts not yet delivered; a failure waits and resumes at the same part."""
        for part in preview.parts[preview.parts_sent :]:
            posts = await aio.read(self.storage.list_posts, article_id=preview.article_id)
            if not is_open(posts):
                await aio.call(
                    self.storage.set_zalo_preview, preview.id, state="open", now=self.clock()
                )
                return  # decided meanwhile: follow_up sends the note instead
            try:
                message_id = await self._send_part(preview.chat_id, part)
            except (ZaloBotError, TransportError) as exc:
                await aio.call(self._failed, preview, exc)
                return
            await aio.call(self.storage.zalo_part_sent, preview.id, message_id, self.clock())

    def _failed(self, preview: ZaloPreview, exc: Exception) -> None:
        """Wait 20 s, 40 s, ... up to an hour; the ALERT_AFTER-th failure is audited (once)."""
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

    # -- sending helpers -------------------------------------------------------------------

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
        for preview, posts in await aio.call(self._decided, article_id):
            await self._after_decision(preview, posts, now)

    def _decided(self, article_id: int | None) -> list[tuple[ZaloPreview, list[PostRecord]]]:
        """Previews whose article was decided (with its posts); a preview whose open article
        changed is queued again meanwhile (blocking: storage)."""
        previews = self.storage.zalo_previews(states=("sending", "open"), article_id=article_id)
        posts_of: dict[int, list[PostRecord]] = {}
        decided = []
        for preview in previews:
            posts = posts_of.setdefault(
                preview.article_id, self.storage.list_posts(article_id=preview.article_id)
            )
            if is_open(posts):
                if preview.state == "open" and revision_of(posts) != preview.revision:
                    self._resend(preview.article_id, preview.chat_id, None, again=True)
                continue
            decided.append((preview, posts))
        return decided

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
            await aio.call(
                self.storage.set_zalo_preview, preview.id, note="decided", state="open", now=now
            )
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
        await aio.call(self.storage.set_zalo_preview, preview.id,
                       note="published" if published else "decided", state="closed", now=now)  # fmt: skip
