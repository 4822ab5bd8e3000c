"""The Telegram previews: built from the stored posts, sent once, kept current by edits.

Split from bot.py (house limit 400 lines); ApprovalBot inherits these methods. The preview of
an article is built from what storage holds (`gather`, blocking: it runs on the readers'
thread), sent to the staff group once (`send_new_previews`), and edited whenever the article's
posts change (`refresh`, callable from any thread: it hands its work to the bot's loop). All
storage work goes through aio (syndicator/storage/aio.py), never on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from syndicator.approval.preview import (
    CAPTION_MAX,
    TEXT_MAX,
    Keyboard,
    PreviewInput,
    is_open,
    render,
    wants_photo,
)
from syndicator.approval.reminders import is_urgent
from syndicator.approval.sendqueue import BULK, URGENT, SendQueue
from syndicator.config import ApprovalSettings
from syndicator.storage import Storage, aio

if TYPE_CHECKING:
    from telegram.ext import Application

    from syndicator.approval.unconfirmed import Unconfirmed

log = structlog.get_logger("syndicator.approval")
# Previews queued and not yet sent at which the desk stops looking for more: a group takes
# about 20 messages a minute (`group_limit`), so this is a minute of sends. Looking every
# tick (2 s) for up to 100 more, all queued already, was most of the desk's cost while a
# backlog drained (bench/daemon.py, docs/benchmarks.md).
QUEUED_ENOUGH = 20


def markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in keyboard
        ]
    )


def link_preview(image: str | None) -> LinkPreviewOptions:
    """The article image as the link preview of a text preview, or none."""
    if image:
        return LinkPreviewOptions(url=image, prefer_large_media=True, show_above_text=True)
    return LinkPreviewOptions(is_disabled=True)


def on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def not_modified(exc: BadRequest) -> bool:
    return "not modified" in str(exc).lower()


class PreviewDesk:
    """The previews half of ApprovalBot (which sets these attributes in its __init__)."""

    storage: Storage
    cfg: ApprovalSettings
    clock: Callable[[], datetime]
    channels: dict[str, Any]
    kinds: dict[str, str]
    chat_id: int
    app: Application[Any, Any, Any, Any, Any, Any]
    queue: SendQueue
    unconfirmed: Unconfirmed
    menus: dict[int, str]
    _shown: dict[tuple[int, int], tuple[str, Keyboard]]
    _sending: set[int]
    _preview_failures: dict[int, tuple[int, datetime]]
    _loop: asyncio.AbstractEventLoop | None
    _tasks: set[asyncio.Task[None]]

    def gather(self, article_id: int) -> PreviewInput | None:
        article = self.storage.get_article(article_id)
        if article is None:
            return None
        order = {name: i for i, name in enumerate(self.channels)}
        posts = sorted(
            self.storage.list_posts(article_id=article_id),
            key=lambda p: (order.get(p.channel, len(order)), p.channel),
        )
        previews = self.storage.previews_of(article_id)
        from syndicator.approval import correct_buttons  # it imports this module

        return PreviewInput(
            article=article, posts=tuple(posts), kinds=self.kinds,
            version=self.storage.article_version(article_id),
            also_at=tuple(agency for _, agency in self.storage.duplicates_of(article_id)),
            urgent=is_urgent(article, self.cfg),
            closed=any(p.state == "closed" for p in previews),
            menu=self.menus.get(article_id, "main"),
            corrections=correct_buttons.shown(self.storage, posts),
        )  # fmt: skip

    def _gather_with_previews(self, article_id: int) -> tuple[PreviewInput | None, list[Any]]:
        """gather() and the article's previews, in one session (blocking: storage reads)."""
        with self.storage.reading():
            return self.gather(article_id), self.storage.previews_of(article_id)

    async def send_new_previews(self, now: datetime) -> int:
        if len(self._sending) >= QUEUED_ENOUGH:
            return 0  # a minute of sends is queued already: no read until it drains
        queued = 0
        for article_id in await aio.read(self._due_previews, now):
            if article_id in self._sending:
                continue
            failures, _retry_at = self._preview_failures.get(article_id, (0, now))
            self._sending.add(article_id)

            async def job(article_id: int = article_id, failures: int = failures) -> None:
                try:
                    await self._send_preview(article_id)
                    self._preview_failures.pop(article_id, None)
                except RetryAfter:
                    raise  # not a failure: the queue waits as told and runs the job again
                except Exception as exc:
                    await self._preview_failed(article_id, failures + 1, exc)
                    raise
                finally:
                    self._sending.discard(article_id)

            if self.queue.submit(self.chat_id, job, priority=BULK, key=f"preview:{article_id}"):
                queued += 1
            else:
                self._sending.discard(article_id)
        return queued

    def _due_previews(self, now: datetime) -> list[int]:
        """Articles whose preview may be sent now (blocking: storage reads). Not those that
        Telegram refused recently (back off instead of retrying each tick), nor a lost send
        still waiting out its delay (unconfirmed.py)."""
        with self.storage.reading():  # two reads, one session
            waiting = [
                article_id
                for article_id in self.storage.articles_needing_preview()
                if self._preview_failures.get(article_id, (0, now))[1] <= now
            ]
            allowed = self.unconfirmed.may_send_many(waiting, now)
        return [article_id for article_id in waiting if article_id in allowed]

    async def _preview_failed(self, article_id: int, failures: int, exc: Exception) -> None:
        """Back off 20 s, 40 s, ... up to an hour; the third failure is audited (once)."""
        now = self.clock()
        wait = timedelta(seconds=min(3600, 10 * 2**failures))
        self._preview_failures[article_id] = (failures, now + wait)
        log.error("preview_failed", article=article_id, failures=failures, error=str(exc)[:300])
        if failures == 3:
            await aio.call(
                self.storage.record_event, "telegram.preview_failed", actor="approval",
                subject=f"article:{article_id}",
                data={"error": str(exc)[:500], "failures": failures}, now=now,
            )  # fmt: skip

    async def _send_preview(self, article_id: int) -> None:
        data, previews = await aio.read(self._gather_with_previews, article_id)
        if data is None or not is_open(data.posts) or previews:
            return  # decided elsewhere meanwhile, or already sent
        bot, photo = self.app.bot, wants_photo(data)
        rendered = render(data, limit=CAPTION_MAX if photo else TEXT_MAX, photo=photo)
        message = None
        try:
            if photo:
                try:
                    message = await bot.send_photo(
                        self.chat_id, data.article.image_url or "", caption=rendered.html,
                        parse_mode=ParseMode.HTML, reply_markup=markup(rendered.keyboard),
                    )  # fmt: skip
                except BadRequest as exc:  # Telegram could not fetch the image: text instead
                    log.warning("preview_photo_failed", article=article_id, error=str(exc))
                    photo = False
                    rendered = render(data, limit=TEXT_MAX)
            if message is None:
                message = await bot.send_message(
                    self.chat_id, rendered.html, parse_mode=ParseMode.HTML,
                    reply_markup=markup(rendered.keyboard),
                    link_preview_options=link_preview(data.article.image_url),
                )  # fmt: skip
        except NetworkError as exc:
            if isinstance(exc, BadRequest):
                raise  # refused: nothing was delivered, the usual back-off applies
            # Timed out or dropped: it may have been delivered. Never re-send blindly.
            await aio.call(
                self.unconfirmed.lost, article_id, self.chat_id, rendered.keyboard, photo, exc
            )
            return
        self.unconfirmed.saw(self.chat_id, message.message_id)
        await aio.call(
            self.storage.record_preview, article_id, self.chat_id, message.message_id,
            has_photo=photo, now=self.clock(),
        )  # fmt: skip
        self._shown[(self.chat_id, message.message_id)] = (rendered.html, rendered.keyboard)
        await self.unconfirmed.sent(article_id, self.chat_id, message.message_id)
        log.info("preview_sent", article=article_id, message=message.message_id, photo=photo)

    def refresh(self, article_id: int, *, priority: int = URGENT, force: bool = False) -> None:
        """Queue an edit of every preview of the article to its current state; `force` when
        the chat may show something else than we last sent (a stale tap, an adopted message).

        Returns at once, from any thread (a Decisions listener): the previews are looked up on
        the readers' thread by a task on the bot's loop, never on the caller's."""
        loop = self._loop
        if loop is None:
            try:
                loop = self._loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet: nothing is shown, the first preview will be current
        if loop.is_closed():
            return
        loop.call_soon_threadsafe(self._spawn_refresh, article_id, priority, force)

    def _spawn_refresh(self, article_id: int, priority: int, force: bool) -> None:
        task = asyncio.get_running_loop().create_task(self._refresh(article_id, priority, force))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh(self, article_id: int, priority: int, force: bool) -> None:
        try:
            previews = await aio.read(self.storage.previews_of, article_id)
        except Exception:
            log.exception("refresh_failed", article=article_id)
            return
        for preview in previews:
            if force:
                self._shown.pop((preview.chat_id, preview.message_id), None)

            async def job(chat: int = preview.chat_id, msg: int = preview.message_id) -> None:
                await self._edit_preview(article_id, chat, msg)

            self.queue.submit(
                preview.chat_id, job, priority=priority,
                key=f"refresh:{preview.chat_id}:{preview.message_id}", idempotent=True,
            )  # fmt: skip

    async def _edit_preview(self, article_id: int, chat_id: int, message_id: int) -> None:
        preview, data = await aio.read(
            lambda: (self.storage.find_preview(chat_id, message_id), self.gather(article_id))
        )
        if preview is None or data is None:
            return
        if preview.state == "open" and not is_open(data.posts):
            await aio.call(self.storage.set_preview_state, article_id, "closed", self.clock())
            self.menus.pop(article_id, None)
        limit = CAPTION_MAX if preview.has_photo else TEXT_MAX
        rendered = render(data, limit=limit, photo=preview.has_photo)
        if self._shown.get((chat_id, message_id)) == (rendered.html, rendered.keyboard):
            return
        bot, keyboard = self.app.bot, markup(rendered.keyboard)
        try:
            if preview.has_photo:
                await bot.edit_message_caption(
                    chat_id, message_id, caption=rendered.html, parse_mode=ParseMode.HTML,
                    reply_markup=keyboard,
                )  # fmt: skip
            else:
                await bot.edit_message_text(
                    rendered.html, chat_id, message_id, parse_mode=ParseMode.HTML,
                    reply_markup=keyboard,
                    link_preview_options=link_preview(data.article.image_url),
                )  # fmt: skip
        except BadRequest as exc:
            if not not_modified(exc):
                raise
        except Forbidden:
            log.error("preview_edit_forbidden", chat=chat_id, message=message_id)
            return
        self._shown[(chat_id, message_id)] = (rendered.html, rendered.keyboard)
