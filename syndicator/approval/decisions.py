"""The one decisions core every surface uses: the CLI, the Telegram bot, the Zalo bot.

A surface parses what the person did into a `Request`, names the person as an `Actor`, and
calls `Decisions.apply(request, actor, now)`; it gets back a `Result` with a Vietnamese
message ready to show. Inside: authorise → check the revision the person saw → decide → answer.
Every change is a compare-and-set in storage (decide / edit_post, given the hashes the person saw), audited with the actor's
label and the surface (`via`), so the first decision wins whatever surface or process made it,
and a stale preview can never decide anything. Listeners (each surface's "refresh the previews
of this article") are called after every change made here; changes made by other processes
reach them through the audit trail (approval/alerts.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import structlog

from syndicator.approval import texts as T
from syndicator.approval.buttons import revision
from syndicator.approval.edits import EditError, EditRule, edit_keeping
from syndicator.approval.preview import OPEN, actor_name, local_time
from syndicator.storage import PostRecord, Storage, aio
from syndicator.types import PostStatus

S = PostStatus
log = structlog.get_logger("syndicator.approval.decisions")
RETRYABLE = (S.FAILED, S.NEEDS_HUMAN)
REASON_MAX = 1000
Posts = tuple[PostRecord, ...]
Seen = dict[int, str] | None  # post id -> the payload hash the person saw; None = not checked


@dataclass(frozen=True, slots=True)
class Actor:
    surface: str  # "cli" | "telegram" | "zalo_bot"
    user_id: str  # the surface's id as text
    name: str  # display name

    @property
    def label(self) -> str:
        """What goes into decided_by and the audit actor, e.g. "telegram:123 Nguyễn Văn A"."""
        if not self.name or self.name == self.user_id:
            return f"{self.surface}:{self.user_id}"
        return f"{self.surface}:{self.user_id} {self.name}"


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    SKIP = "skip"
    UNSKIP = "unskip"
    EDIT = "edit"
    SCHEDULE = "schedule"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class Request:
    action: Action
    article_id: int
    channel: str | None = None  # restrict to one channel; None = every open post
    text: str | None = None  # new text (EDIT) or reason (REJECT)
    when: datetime | None = None  # SCHEDULE
    revision: str | None = None  # buttons.revision() the person saw; None = not checked (CLI)


@dataclass(frozen=True, slots=True)
class Result:
    status: str  # "done" | "already" | "stale" | "refused" | "invalid" | "nothing"
    message: str  # Vietnamese, ready to show the person
    posts: tuple[PostRecord, ...]  # the posts that moved (done) or the article's posts


def done_by(posts: Sequence[PostRecord]) -> str:
    """'Đã được xử lý bởi … lúc …' from the latest human decision on the article."""
    decided = [p for p in posts if p.decided_at and p.status not in (*OPEN, S.SKIPPED)]
    if not decided:
        return T.ANS_DONE
    last = max(decided, key=lambda p: p.decided_at or datetime.min)
    assert last.decided_at is not None
    return T.ANS_DONE_BY.format(who=actor_name(last.decided_by), when=local_time(last.decided_at))


class Decisions:
    """Parse → authorise → decide → answer, for every surface (see the module docstring)."""

    def __init__(
        self,
        storage: Storage,
        *,
        is_approver: Callable[[Actor], bool],
        is_admin: Callable[[Actor], bool],
        edit_rules: Mapping[str, EditRule],
        kinds: Mapping[str, str],
        listeners: Sequence[Callable[[int], None]] = (),
    ) -> None:
        self.storage = storage
        self.is_approver, self.is_admin = is_approver, is_admin
        self.rules, self.kinds = dict(edit_rules), dict(kinds)
        self.listeners: list[Callable[[int], None]] = list(listeners)

    def add_listener(self, fn: Callable[[int], None]) -> None:
        """`fn(article_id)` runs after every change made here (surfaces refresh previews)."""
        self.listeners.append(fn)

    def allowed(self, action: Action, actor: Actor) -> bool:
        """Retry is for admins; every other action for approvers (admins are approvers)."""
        if action == Action.RETRY:
            return self.is_admin(actor)
        return self.is_approver(actor) or self.is_admin(actor)

    def refuse(
        self, actor: Actor, subject: str, now: datetime, message: str, **data: Any
    ) -> Result:
        """Audit a refused attempt (who, where, what) and answer it."""
        self.storage.record_event(
            "approval.refused", actor=actor.label, subject=subject,
            data={"via": actor.surface, "user_id": actor.user_id, **data}, now=now,
        )  # fmt: skip
        return Result("refused", message, ())

    def apply(self, request: Request, actor: Actor, now: datetime) -> Result:
        """Do what the request says if the actor may and the article still looks as seen
        (blocking: the CLI calls it; a coroutine awaits `submit`)."""
        result = self._apply(request, actor, now)
        self._notify(request, actor, result)
        return result

    async def submit(self, request: Request, actor: Actor, now: datetime) -> Result:
        """`apply` for the bots: the storage work runs on the storage thread (aio.call), so a
        held write lock delays this decision only, never the loop; the listeners (preview
        refreshes, the publisher's wake) then run here, on the loop."""
        result = await aio.call(self._apply, request, actor, now)
        self._notify(request, actor, result)
        return result

    async def refuse_async(
        self, actor: Actor, subject: str, now: datetime, message: str, **data: Any
    ) -> Result:
        """`refuse` from a coroutine: the audit write waits on the storage thread."""
        return await aio.call(self.refuse, actor, subject, now, message, **data)

    async def may(self, action: Action, actor: Actor) -> bool:
        """`allowed` from a coroutine: a linked approver is looked up on the readers' thread."""
        return await aio.read(self.allowed, action, actor)

    def _notify(self, request: Request, actor: Actor, result: Result) -> None:
        if result.status == "done":
            log.info("decision", action=request.action.value, article=request.article_id,
                     actor=actor.label, posts=[p.id for p in result.posts])  # fmt: skip
            for listener in self.listeners:
                listener(request.article_id)

    def _apply(self, request: Request, actor: Actor, now: datetime) -> Result:
        subject = f"article:{request.article_id}"
        if not self.allowed(request.action, actor):
            message = T.NOT_ADMIN if request.action == Action.RETRY else T.ANS_REFUSED
            return self.refuse(actor, subject, now, message, action=request.action.value)
        posts = tuple(self.storage.list_posts(article_id=request.article_id))
        if not posts:
            return Result("invalid", T.ANS_NO_ARTICLE.format(article=request.article_id), ())
        if request.channel is not None and not any(p.channel == request.channel for p in posts):
            text = T.ANS_NO_CHANNEL.format(article=request.article_id, channel=request.channel)
            return Result("invalid", text, posts)
        if request.revision is not None and request.revision != revision(posts):
            self.storage.record_event(
                "approval.stale", actor=actor.label, subject=subject,
                data={"via": actor.surface, "action": request.action.value,
                      "seen": request.revision, "current": revision(posts)}, now=now,
            )  # fmt: skip
            return Result("stale", T.ANS_STALE, posts)
        seen = {p.id: p.payload_hash for p in posts} if request.revision is not None else None
        handler = getattr(self, f"_{request.action.value}")
        result: Result = handler(request, actor, now, posts, seen)
        return result

    # -- one method per action --------------------------------------------------------------

    def _move(
        self, request: Request, actor: Actor, now: datetime, targets: Sequence[PostRecord],
        to: PostStatus, seen: dict[int, str] | None, *, allowed_from: Sequence[PostStatus] = OPEN,
        reason: str | None = None, extra: Mapping[str, Any] | None = None,
    ) -> tuple[PostRecord, ...]:  # fmt: skip
        return tuple(
            self.storage.decide(
                [p.id for p in targets], to, actor=actor.label, now=now,
                allowed_from=allowed_from, seen=seen, reason=reason,
                scheduled_for=request.when if to == S.SCHEDULED else None,
                data={"via": actor.surface, **(extra or {})},
            )
        )  # fmt: skip

    def _lost(self, request: Request) -> Result:
        """Nothing moved although targets looked open: someone else was first, or the text
        changed between our read and the compare-and-set."""
        posts = tuple(self.storage.list_posts(article_id=request.article_id))
        if any(p.status in OPEN for p in self._chosen(request, posts)):
            return Result("stale", T.ANS_STALE, posts)
        return Result("already", done_by(posts), posts)

    @staticmethod
    def _chosen(request: Request, posts: Sequence[PostRecord]) -> list[PostRecord]:
        return [p for p in posts if request.channel in (None, p.channel)]

    def _open_targets(
        self, request: Request, posts: Sequence[PostRecord]
    ) -> Result | list[PostRecord]:
        chosen = self._chosen(request, posts)
        targets = [p for p in chosen if p.status in OPEN]
        if targets:
            return targets
        if chosen and all(p.status == S.SKIPPED for p in chosen):
            return Result("nothing", T.ANS_NOTHING_ON, tuple(posts))
        return Result("already", done_by(posts), tuple(posts))

    def _approve(
        self, request: Request, actor: Actor, now: datetime, posts: Posts, seen: Seen
    ) -> Result:
        targets = self._open_targets(request, posts)
        if isinstance(targets, Result):
            return targets
        moved = self._move(request, actor, now, targets, S.APPROVED, seen)
        return Result("done", T.ANS_APPROVED, moved) if moved else self._lost(request)

    def _reject(
        self, request: Request, actor: Actor, now: datetime, posts: Posts, seen: Seen
    ) -> Result:
        targets = self._open_targets(request, posts)
        if isinstance(targets, Result):
            if targets.status != "nothing":
                return targets
            targets = [p for p in self._chosen(request, posts) if p.status == S.SKIPPED]
        reason = (request.text or "").strip()[:REASON_MAX] or None
        moved = self._move(
            request, actor, now, targets, S.REJECTED, seen, reason=reason,
            allowed_from=(*OPEN, S.SKIPPED),
        )  # fmt: skip
        return Result("done", T.ANS_REJECTED, moved) if moved else self._lost(request)

    def _schedule(
        self, request: Request, actor: Actor, now: datetime, posts: Posts, seen: Seen
    ) -> Result:
        if request.when is None:
            return Result("invalid", T.ANS_NEED_TIME, tuple(posts))
        if request.when <= now:
            return Result("invalid", T.TIME_PAST.format(when=local_time(request.when)), posts)
        targets = self._open_targets(request, posts)
        if isinstance(targets, Result):
            return targets
        moved = self._move(request, actor, now, targets, S.SCHEDULED, seen)
        if not moved:
            return self._lost(request)
        return Result("done", T.ANS_SCHEDULED.format(when=local_time(request.when)), moved)

    def _one(self, request: Request, posts: Sequence[PostRecord]) -> PostRecord | Result:
        if request.channel is None:
            return Result("invalid", T.ANS_NO_CHANNEL.format(
                article=request.article_id, channel=""), tuple(posts))  # fmt: skip
        return next(p for p in posts if p.channel == request.channel)

    def _label(self, channel: str) -> str:
        return T.KIND_NAMES.get(self.kinds.get(channel, ""), channel)

    def _skip(
        self, request: Request, actor: Actor, now: datetime, posts: Posts, seen: Seen
    ) -> Result:
        post = self._one(request, posts)
        if isinstance(post, Result):
            return post
        label = self._label(post.channel)
        if post.status == S.SKIPPED:
            return Result("already", T.ANS_CHANNEL_ALREADY_OFF.format(label=label), posts)
        if post.status not in OPEN:
            return Result("already", done_by(posts), posts)
        moved = self._move(request, actor, now, [post], S.SKIPPED, seen)
        if not moved:
            return self._lost(request)
        return Result("done", T.ANS_CHANNEL_OFF.format(label=label), moved)

    def _unskip(
        self, request: Request, actor: Actor, now: datetime, posts: Posts, seen: Seen
    ) -> Result:
        post = self._one(request, posts)
        if isinstance(post, Result):
            return post
        label = self._label(post.channel)
        if post.status in OPEN:
            return Result("already", T.ANS_CHANNEL_ALREADY_ON.format(label=label), posts)
        if post.status != S.SKIPPED:
            return Result("already", done_by(posts), posts)
        article = self.storage.get_article(request.article_id)
        held = any(p.status == S.HELD for p in posts) or bool(article and article.held)
        back = S.HELD if held else S.PENDING
        moved = self._move(request, actor, now, [post], back, seen, allowed_from=(S.SKIPPED,))
        if not moved:
            return self._lost(request)
        return Result("done", T.ANS_CHANNEL_ON.format(label=label), moved)

    def _edit(
        self, request: Request, actor: Actor, now: datetime, posts: Posts, seen: Seen
    ) -> Result:
        post = self._one(request, posts)
        if isinstance(post, Result):
            return post
        label = self._label(post.channel)
        rule = self.rules.get(self.kinds.get(post.channel, ""))
        if rule is None:
            return Result("invalid", T.EDIT_NOT_SUPPORTED.format(label=label), posts)
        if post.status not in OPEN:
            return Result("already", done_by(posts), posts)
        article = self.storage.get_article(request.article_id)
        url = article.canonical_url if article else None
        try:
            edited, restored = edit_keeping(post, rule, request.text or "", url)
        except EditError as exc:
            if exc.reason == "empty":
                return Result("invalid", T.EDIT_EMPTY, posts)
            text = T.EDIT_TOO_LONG.format(length=exc.length, limit=exc.limit, label=label)
            return Result("invalid", text, posts)
        record = self.storage.edit_post(
            post.id, edited, expected_hash=seen.get(post.id) if seen else None,
            actor=actor.label, now=now, data={"via": actor.surface, "url_restored": restored},
        )  # fmt: skip
        if record is None:
            return self._lost(request)
        message = T.EDIT_SAVED.format(label=label, article=request.article_id)
        return Result("done", message + (T.URL_RESTORED if restored else ""), (record,))

    def _retry(
        self, request: Request, actor: Actor, now: datetime, posts: Posts, seen: Seen
    ) -> Result:
        targets = [p for p in self._chosen(request, posts) if p.status in RETRYABLE]
        if not targets:
            return Result("nothing", T.RETRY_NONE.format(article=request.article_id), posts)
        moved = self._move(
            request, actor, now, targets, S.APPROVED, seen, allowed_from=RETRYABLE,
            extra={"retry": True},
        )  # fmt: skip
        if not moved:
            return Result("nothing", T.RETRY_NONE.format(article=request.article_id), posts)
        lines = [T.RETRY_DONE.format(post=p.id, channel=p.channel) for p in moved]
        return Result("done", "\n".join(lines), moved)
