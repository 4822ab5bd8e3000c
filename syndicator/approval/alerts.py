"""Alerts to the admin chat, driven by the audit trail since a stored cursor.

Why the audit trail: every incident the admins must hear about is already an audited state
*transition* written in the same transaction as the change (source.unhealthy once when a source
crosses the threshold, channel.needs_credentials once when the channel pauses, post.failed /
post.needs_human once per post), so reading it gives one alert per incident, not one per retry.
The cursor (last handled audit id) is stored in the database and advanced after each alert is
sent: a restart neither loses alerts nor repeats more than the one in flight. The first start
begins at the end of the trail (no flood of history). The same feed refreshes previews after
decisions made elsewhere (CLI) and re-renders; the publisher listener does so immediately.
Two incidents have no single transition event and are deduplicated with stored incident keys:
a failing Zalo token refresh (cleared by a rotated or newly set token) and a broken audit chain
(checked every `verify_every`, alerted once per broken event id).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from syndicator.approval import plain
from syndicator.approval import texts as T
from syndicator.approval.preview import clip
from syndicator.approval.sendqueue import NORMAL
from syndicator.audit import AuditEvent
from syndicator.service import AUDIT_STEP_ROWS
from syndicator.storage import aio

if TYPE_CHECKING:
    from syndicator.approval.bot import ApprovalBot

log = structlog.get_logger("syndicator.approval.alerts")
# Kinds that are never an alert and never change a preview (`describe` and `_article_for`
# ignore them): the bulk of the trail, not read by the cursor at all.
QUIET_KINDS = ("article.", "post.created")
CURSOR = "alert_cursor"
AUDIT_BROKEN = "incident:audit_broken"
LAST_VERIFY = "audit_verified_at"
REFRESH_ERRORS = ("refresh", "làm mới")
# When only quiet events passed (the trail's bulk: new articles and their posts), the cursor is
# stored at most this often: re-reading them after a restart finds nothing, and storing it
# at every tick was a write transaction every 2 s on a busy daemon. An event that was looked
# at (an alert, a preview to refresh) stores it at once.
QUIET_CURSOR_EVERY = timedelta(minutes=1)


class Alerts:
    def __init__(self, bot: ApprovalBot, *, prefix: str = "") -> None:
        """`prefix` keeps another surface's cursor and incident keys apart (the Zalo admins
        get the same alerts through zalo_bot/duties.py with prefix "zalo_bot:")."""
        self.bot = bot
        self.cursor, self.audit_broken = prefix + CURSOR, prefix + AUDIT_BROKEN
        self.last_verify, self.prefix = prefix + LAST_VERIFY, prefix
        self.watermark: int | None = None  # last event handed to the queue
        self.in_flight = 0
        self.stored_at: datetime | None = None  # when run() last stored the cursor
        self.stored_mark: int | None = None  # and what
        # The latest audit check this instance knows of (read or started): until verify_every
        # has passed since, no check is due whatever the database says (it only moves on),
        # so the tick asks the database nothing (a hand-off every 2 s before; issue 11).
        self.verified_at: datetime | None = None
        # Whether checks may run: the daemon holds them until its first wave of polls is over
        # (runtime.py), so a restart's backlog walk does not share the cores with it.
        self.ready: Callable[[], bool] = lambda: True

    def load(self) -> None:
        """Resume from the stored cursor; start at the end of the trail the first time."""
        stored = self.bot.storage.get_value(self.cursor)
        if stored is None:
            stored = str(self.bot.storage.last_audit_id())
            self.bot.storage.set_value(self.cursor, stored, self.bot.clock())
        self.watermark = self.stored_mark = int(stored)

    async def run(self, now: datetime) -> None:
        # The audit reads and the incident bookkeeping run on the storage thread (aio.call);
        # only the refreshes and the sends happen here, on the loop.
        found, upto = await aio.call(self._collect, now)
        for event_id, text, article in found:
            if article is not None:
                self.bot.refresh(article)
            if text is not None:
                self._send(text, event_id)
            self.watermark = event_id
        self.watermark = upto
        behind = upto != self.stored_mark
        quiet_due = self.stored_at is None or now - self.stored_at >= QUIET_CURSOR_EVERY
        if (found or (behind and quiet_due)) and self.in_flight == 0:
            await aio.call(self.bot.storage.set_value, self.cursor, str(self.watermark), now)
            self.stored_at, self.stored_mark = now, self.watermark
        await self._verify(now)

    def _collect(self, now: datetime) -> tuple[list[tuple[int, str | None, int | None]], int]:
        """(event id, alert text, article to refresh) for each audit event after the
        watermark that can be an alert or change a preview, and the id up to which every
        event was looked at (blocking: run on the storage thread)."""
        if self.watermark is None:
            self.load()
        assert self.watermark is not None
        events, upto = self.bot.storage.audit_events_after(self.watermark, skip=QUIET_KINDS)
        return [(e.id, self.describe(e, now), self._article_for(e)) for e in events], upto

    def _send(self, text: str, event_id: int) -> None:
        bot = self.bot
        self.in_flight += 1

        def advance() -> None:
            stored = int(bot.storage.get_value(self.cursor) or 0)
            if event_id > stored:
                bot.storage.set_value(self.cursor, str(event_id), bot.clock())

        async def done() -> None:
            self.in_flight -= 1
            await aio.call(advance)

        bot.say(bot.admin_chat_id, text, priority=NORMAL, on_done=done)

    def _article_for(self, event: AuditEvent) -> int | None:
        """The article whose previews this post event changes (blocking: a storage read)."""
        if not event.kind.startswith("post.") or event.kind == "post.created":
            return None
        data = _data(event)
        article = data.get("article")
        if article is None and (event.subject or "").startswith("post:"):
            record = self.bot.storage.get_post(int(str(event.subject).split(":")[1]))
            article = record.article_id if record else None
        return article if isinstance(article, int) else None

    def describe(self, event: AuditEvent, now: datetime) -> str | None:
        """The alert for one audit event, or None when it is not one (stateful for incidents)."""
        data, storage = _data(event), self.bot.storage
        channel = str(data.get("channel") or (event.subject or "").removeprefix("channel:"))
        if event.kind == "source.unhealthy":
            last_error = str(data.get("last_error") or "")
            return T.ALERT_SOURCE.format(
                source=event.subject, errors=data.get("errors", "?"),
                error=plain.for_admins(plain.source_error(last_error), last_error),
            )  # fmt: skip
        if event.kind == "source.recovered":
            return T.ALERT_SOURCE_OK.format(source=event.subject)
        if event.kind == "channel.needs_credentials":
            return T.ALERT_CREDENTIALS.format(
                channel=channel, fix=clip(str(data.get("reason") or ""), 600)
            )
        if event.kind in ("post.failed", "post.needs_human"):
            template = T.ALERT_FAILED if event.kind == "post.failed" else T.ALERT_NEEDS_HUMAN
            return template.format(
                article=data.get("article"), channel=channel,
                post=(event.subject or "").removeprefix("post:"),
                error=plain.for_admins(
                    plain.post_error(data.get("class")), str(data.get("error") or "")
                ),
            )  # fmt: skip
        if event.kind == "source.flood":
            return T.ALERT_FLOOD.format(
                source=(event.subject or "").removeprefix("source:"),
                stored=data.get("stored", "?"), deferred=data.get("deferred", "?"),
                cap=data.get("max_new_per_poll", "?"),
            )  # fmt: skip
        if event.kind == "post.blocked":
            until = str(data.get("blocked_until") or data.get("next_attempt_at") or "")
            return T.ALERT_BLOCKED.format(
                channel=channel, post=(event.subject or "").removeprefix("post:"),
                until=clip(until.replace("T", " ")[:16], 40),
            )  # fmt: skip
        if event.kind == "telegram.preview_failed":
            return T.ALERT_PREVIEW.format(
                article=(event.subject or "").removeprefix("article:"),
                error=clip(str(data.get("error") or ""), 400),
            )
        key = f"{self.prefix}incident:zalo_refresh:{channel}"
        if event.kind in ("channel.token_rotated", "channel.token_set", "channel.active"):
            storage.delete_values([key])
            return None
        error = str(data.get("error") or "")
        if (
            event.kind in ("post.retry", "post.waiting_credentials")
            and self.bot.kinds.get(channel) == "zalo_oa"
            and any(word in error.lower() for word in REFRESH_ERRORS)
            and storage.get_value(key) is None
        ):
            storage.set_value(key, str(event.id), now)
            return T.ALERT_ZALO_REFRESH.format(channel=channel, error=clip(error, 400))
        return None

    async def _verify(self, now: datetime) -> None:
        """Check the audit chain every `verify_every`; alert once per broken event."""
        known = self.verified_at
        if not self.ready() or (
            known is not None and known <= now < known + self.bot.cfg.verify_every
        ):
            return
        if not await aio.call(self._verify_due, now):
            return
        # Only the rows since the last good check, the whole trail once a day, in bites like the
        # daemon's own check (service.watch_audit, sharing its checkpoint); its own thread, so
        # neither storage thread waits for it. With rows left, the next tick goes on.
        result = await asyncio.to_thread(
            self.bot.storage.verify_audit_step, now, max_rows=AUDIT_STEP_ROWS
        )
        if result.ok and result.pending:
            self.verified_at = None  # rows left: the next tick goes on
            await aio.call(self.bot.storage.delete_values, [self.last_verify])
            return
        if not await aio.call(self._newly_broken, result.ok, result.bad_id, now):
            return
        log.error("audit_chain_broken", bad_id=result.bad_id, reason=result.reason)
        self.bot.say(
            self.bot.admin_chat_id,
            T.ALERT_AUDIT.format(bad_id=result.bad_id, reason=result.reason),
            priority=NORMAL,
        )

    def _verify_due(self, now: datetime) -> bool:
        """Whether a check is due; if so, remember it started now (blocking)."""
        storage = self.bot.storage
        last = storage.get_value(self.last_verify)
        if last is not None and now - datetime.fromisoformat(last) < self.bot.cfg.verify_every:
            self.verified_at = datetime.fromisoformat(last)
            return False
        storage.set_value(self.last_verify, now.isoformat(), now)
        self.verified_at = now
        return True

    def _newly_broken(self, ok: bool, bad_id: int | None, now: datetime) -> bool:
        """Record the check's outcome; True the first time a given event is found broken."""
        storage = self.bot.storage
        if ok:
            storage.delete_values([self.audit_broken])
            return False
        if storage.get_value(self.audit_broken) == str(bad_id):
            return False
        storage.set_value(self.audit_broken, str(bad_id), now)
        return True


def _data(event: AuditEvent) -> dict[str, Any]:
    try:
        data = json.loads(event.data)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
