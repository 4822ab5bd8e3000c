"""The watcher: on the leader, look at each recently published article and raise alerts.

Each turn it lists the articles with a live post published within `[watch] days`, compares the
stored article (kept current by the poller while it stays in its feed) with the baseline (the
text that was live), and, once the article left its feed (the poller's memory of the feed's
last document: watch.presence), follows its URL through the daemon's Fetcher (proxy plan, size
cap, deadline) to see whether it was withdrawn: at the next turn when it vanished while older
items stayed, every `[watch] check_every` when newer items pushed it out. A material
change or a withdrawal is audited (`watch.changed`, `watch.withdrawn`) and handed to the staff
surface (`notify`), which shows the difference and the buttons (approval/watch_buttons.py).

Per-article state is a small JSON value in `approval_values` (`watch:<article id>`), so a
restart neither forgets an open alert nor alerts twice. Statuses: `watching`; `alerted` (staff
asked, no answer yet); `confirming` (Cập nhật tapped, the re-rendered posts wait for approval).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import structlog

from syndicator.poll_memory import member_guids
from syndicator.publishing.watch import (
    Presence,
    Snapshot,
    material_change,
    older_items,
    presence,
    url_check_due,
    watched,
    withdrawn,
)
from syndicator.sources.fetch import Fetcher
from syndicator.storage import Storage, aio
from syndicator.types import Article, PostStatus

log = structlog.get_logger("syndicator.watch")
KEY = "watch:{id}"
RENOTIFY = timedelta(minutes=10)  # an alert whose message never got sent is sent again
# Posts are created before they go live (approval may wait, a schedule may be far off): look
# this much further back for posts so one published late is still found.
CREATED_SLACK = timedelta(days=30)
MAX_FETCHES = 20  # URL checks per turn: a big backlog is spread over several turns


def snapshot(article: Article) -> Snapshot:
    return Snapshot(article.title, article.content_text or article.summary, article.content_hash)


def load(storage: Storage, article_id: int) -> dict[str, Any] | None:
    raw = storage.get_value(KEY.format(id=article_id))
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def save(storage: Storage, article_id: int, state: dict[str, Any], now: datetime) -> None:
    storage.set_value(KEY.format(id=article_id), json.dumps(state, ensure_ascii=False), now)


def rebase(state: dict[str, Any], article: Article) -> dict[str, Any]:
    """Watch on from `article` as the new baseline (after a dismissal or a correction)."""
    snap = snapshot(article)
    kept: dict[str, Any] = {k: state[k] for k in ("checked_at", "older", "left_at") if k in state}
    return {"status": "watching", "title": snap.title, "text": snap.text,
            "hash": snap.content_hash, **kept}  # fmt: skip


class WatchRunner:
    def __init__(
        self,
        storage: Storage,
        fetcher: Fetcher | None,
        *,
        days: timedelta,
        check_every: timedelta,
        threshold: float,
        clock: Callable[[], datetime],
        notify: Callable[[int], None] | None = None,  # thread-safe: runs on the storage thread
    ) -> None:
        self.storage, self.fetcher, self.clock = storage, fetcher, clock
        self.days, self.check_every, self.threshold = days, check_every, threshold
        self.notify = notify  # set by the daemon when a staff surface runs

    def live_articles(self, now: datetime) -> list[int]:
        """Articles whose first live post went out within the watch period."""
        first: dict[int, datetime] = {}
        for post in self.storage.list_posts(
            status=[PostStatus.PUBLISHED], since=now - self.days - CREATED_SLACK
        ):
            if post.published_at is not None:
                at = first.get(post.article_id)
                first[post.article_id] = min(at, post.published_at) if at else post.published_at
        return sorted(a for a, at in first.items() if watched(at, now, self.days))

    async def run_once(self) -> int:
        """One turn; returns how many alerts it raised. The storage work runs on the storage
        thread (aio.call); only the withdrawal checks' fetches run here, on the loop."""
        now = self.clock()
        raised, to_check = await aio.call(self._turn, now)
        for article, state in to_check:
            assert self.fetcher is not None
            result = await self.fetcher.fetch(article.url, now=now)
            raised += await aio.call(self._checked, article, state, result, now)
        return raised

    def _turn(self, now: datetime) -> tuple[int, list[tuple[Article, dict[str, Any]]]]:
        """Compare the stored articles (blocking); return the alerts raised and the articles
        whose page is due a withdrawal check."""
        raised, to_check = 0, list[tuple[Article, dict[str, Any]]]()
        live = [a for a in map(self.storage.get_article, self.live_articles(now)) if a]
        stored = self.storage.poll_members(list({a.source_id for a in live}))
        members = {sid: member_guids(text) for sid, text in stored.items()}
        vanished: list[tuple[Article, dict[str, Any]]] = []
        for article in live:
            article_id = article.id or 0
            state = load(self.storage, article_id)
            if state is None:  # first turn after publication: what is live is the baseline
                state = rebase({}, article)
                save(self.storage, article_id, state, now)
            if state["status"] != "watching":
                self._renotify(article_id, state, now)
                continue
            if self._compare(article, state, now):
                raised += 1
                continue
            where = self._place(article, state, members.get(article.source_id), now)
            checked, left = state.get("checked_at"), state.get("left_at")
            last = datetime.fromisoformat(checked) if checked else None
            left_at = datetime.fromisoformat(left) if left else None
            if self.fetcher is not None and url_check_due(
                last, now, self.check_every, where, left_at
            ):
                (vanished if where is Presence.VANISHED else to_check).append((article, state))
        # A vanished article is checked at this turn, ahead of the routine checks.
        return raised, (vanished + to_check)[:MAX_FETCHES]

    def _place(
        self, article: Article, state: dict[str, Any], members: list[str] | None, now: datetime
    ) -> Presence:
        """Where the article stands in its feed; its state remembers the items after it while
        it is there, and when it left (saved only when that changes)."""
        where = presence(article.guid, members, state.get("older", []))
        before = (state.get("older"), state.get("left_at"))
        if where is Presence.IN_FEED:
            assert members is not None
            state["older"] = older_items(article.guid, members)
            state.pop("left_at", None)
        elif where is not Presence.UNKNOWN and not state.get("left_at"):
            state["left_at"] = now.isoformat()
        if (state.get("older"), state.get("left_at")) != before:
            save(self.storage, article.id or 0, state, now)
        return where

    def _compare(self, article: Article, state: dict[str, Any], now: datetime) -> bool:
        if article.content_hash == state.get("seen", state["hash"]):
            return False
        old = Snapshot(state["title"], state["text"], state["hash"])
        change = material_change(old, snapshot(article), self.threshold)
        state["seen"] = article.content_hash  # a minor edit is compared once, not every turn
        if change is None:
            save(self.storage, article.id or 0, state, now)
            return False
        state.update(status="alerted", kind="changed", change=asdict(change), notified_at=None)
        self._raise(article, state, "watch.changed", {
            "old_hash": old.content_hash, "new_hash": article.content_hash, **asdict(change),
        }, now)  # fmt: skip
        return True

    def _checked(self, article: Article, state: dict[str, Any], result: Any, now: datetime) -> int:
        """Record a withdrawal check's outcome (blocking); 1 when it raised an alert."""
        state["checked_at"] = now.isoformat()
        if not withdrawn(result.status, result.error):
            if result.error:
                log.info("watch_check_failed", article=article.id, error=result.error)
            save(self.storage, article.id or 0, state, now)
            return 0
        state.update(status="alerted", kind="withdrawn", http=result.status, notified_at=None)
        self._raise(article, state, "watch.withdrawn",
                    {"url": article.url, "status": result.status}, now)  # fmt: skip
        return 1

    def _raise(
        self, article: Article, state: dict[str, Any], kind: str, data: dict[str, Any],
        now: datetime,
    ) -> None:  # fmt: skip
        assert article.id is not None
        state["notified_at"] = now.isoformat()
        save(self.storage, article.id, state, now)
        self.storage.record_event(
            kind, actor="watcher", subject=f"article:{article.id}", data=data, now=now
        )
        log.warning(kind.replace(".", "_"), article=article.id)
        if self.notify is not None:
            self.notify(article.id)

    def _renotify(self, article_id: int, state: dict[str, Any], now: datetime) -> None:
        """An alert whose message was never sent (Telegram down) is sent again later."""
        if self.notify is None or state.get("message") or state["status"] != "alerted":
            return
        at = state.get("notified_at")
        if at and now < datetime.fromisoformat(at) + RENOTIFY:
            return
        state["notified_at"] = now.isoformat()
        save(self.storage, article_id, state, now)
        self.notify(article_id)
