"""A private stand-in for syndicator/approval/decisions.py, written to its fixed contract.

The one decisions core (Actor, Action, Request, Result, Decisions) is being written in
parallel; until it lands, this module implements exactly that interface over
storage.decide() / storage.edit_post(), the way approval/handlers.py decides today, so the
surface changes one import at merge. Rules kept: authorisation by approver identity, first
decision wins (storage.decide is a compare-and-set), stale content refused (the revision is the
payload-hash prefixes the person saw), every decision audited with the surface (`via`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from syndicator.approval.edits import EditError, EditRule, apply_edit
from syndicator.approval.preview import local_time
from syndicator.approval.texts import KIND_NAMES
from syndicator.approval.zalo_bot import texts as T
from syndicator.storage import PostRecord, Storage
from syndicator.types import PostStatus

S = PostStatus
OPEN = (S.PENDING, S.HELD)


@dataclass(frozen=True, slots=True)
class Actor:
    surface: str  # "cli" | "telegram" | "zalo_bot"
    user_id: str
    name: str

    @property
    def label(self) -> str:
        """What goes into decided_by and the audit actor."""
        return f"{self.surface}:{self.user_id} ({self.name})"


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
    channel: str | None = None
    text: str | None = None
    when: datetime | None = None
    revision: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    status: str  # "done" | "already" | "stale" | "refused" | "invalid" | "nothing"
    message: str
    posts: tuple[PostRecord, ...]


def revision_of(posts: list[PostRecord] | tuple[PostRecord, ...]) -> str:
    """The short payload-hash prefixes of the open posts, in post order."""
    return ",".join(p.payload_hash[:8] for p in sorted(posts, key=lambda p: p.id)
                    if p.status in OPEN)  # fmt: skip


def name_of(decided_by: str | None) -> str:
    """'zalo_bot:42 (Nguyễn Văn A)' → 'Nguyễn Văn A'; rules and the system get a word."""
    if not decided_by:
        return T.SYSTEM
    match = re.match(r"^[a-z_]+:\S+ \((.*)\)$", decided_by)
    if match:
        return match.group(1)
    if decided_by.startswith("rule") or decided_by == "auto":
        return T.RULE
    if decided_by.startswith("approval:"):
        return T.SYSTEM
    return decided_by


def already(article_id: int, posts: list[PostRecord]) -> str:
    """Who decided the article and when (the latest human decision)."""
    decided = [p for p in posts if p.decided_at and p.status not in (*OPEN, S.SKIPPED)]
    if not decided:
        return T.ALREADY_PLAIN.format(n=article_id)
    last = max(decided, key=lambda p: p.decided_at or datetime.min)
    assert last.decided_at is not None
    return T.ALREADY.format(n=article_id, who=name_of(last.decided_by),
                            verb=T.VERBS.get(last.status.value, "xử lý"),
                            when=local_time(last.decided_at))  # fmt: skip


@dataclass
class Decisions:
    storage: Storage
    is_approver: Callable[[Actor], bool]
    is_admin: Callable[[Actor], bool]
    edit_rules: Mapping[str, EditRule]
    kinds: Mapping[str, str]
    listeners: list[Callable[[int], None]] = field(default_factory=list)

    def add_listener(self, fn: Callable[[int], None]) -> None:
        self.listeners.append(fn)

    def apply(self, request: Request, actor: Actor, now: datetime) -> Result:
        """Authorise, check what the person saw, decide once, answer in Vietnamese."""
        n = request.article_id
        admin_only = request.action == Action.RETRY
        if not self.is_approver(actor) or (admin_only and not self.is_admin(actor)):
            self.storage.record_event(
                "approval.refused", actor=actor.label, subject=f"article:{n}",
                data={"action": request.action.value, "via": actor.surface}, now=now,
            )  # fmt: skip
            return Result("refused", T.ADMIN_ONLY if admin_only else T.REFUSED, ())
        posts = self.storage.list_posts(article_id=n)
        if not posts:
            return Result("invalid", T.NO_ARTICLE.format(n=n), ())
        targets = [p for p in posts if request.channel in (None, p.channel)]
        if not targets:
            label = KIND_NAMES.get(self.kinds.get(request.channel or "", ""), request.channel)
            return Result("invalid", T.NO_CHANNEL.format(n=n, label=label), tuple(posts))
        wanted = {Action.RETRY: (S.FAILED, S.NEEDS_HUMAN), Action.UNSKIP: (S.SKIPPED,)}
        movable = [p for p in targets if p.status in wanted.get(request.action, OPEN)]
        if not movable:
            return Result("already", already(n, posts), tuple(posts))
        if request.revision and request.action not in (Action.RETRY, Action.UNSKIP):
            seen = [r for r in request.revision.split(",") if r]
            if any(not any(p.payload_hash.startswith(r) for r in seen) for p in movable):
                return Result("stale", T.STALE.format(n=n), tuple(posts))
        outcome = self._decide(request, actor, now, movable, posts)
        if isinstance(outcome, Result):
            return outcome
        if not outcome:
            return Result("already", already(n, self.storage.list_posts(article_id=n)), ())
        for listener in list(self.listeners):
            listener(n)
        channels = ", ".join(KIND_NAMES.get(self.kinds.get(p.channel, ""), p.channel)
                             for p in outcome)  # fmt: skip
        message = T.DONE[request.action.value].format(
            n=n, channels=channels, who=actor.name, when=local_time(now),
            at=local_time(request.when) if request.when else "",
        )  # fmt: skip
        return Result("done", message, tuple(outcome))

    def _decide(
        self, request: Request, actor: Actor, now: datetime, movable: list[PostRecord],
        posts: list[PostRecord],
    ) -> list[PostRecord] | Result:  # fmt: skip
        ids = [p.id for p in movable]
        data: dict[str, Any] = {"via": actor.surface, "user_id": actor.user_id,
                                "revision": request.revision}  # fmt: skip
        decide = self.storage.decide
        if request.action == Action.APPROVE:
            return decide(ids, S.APPROVED, actor=actor.label, now=now, data=data)
        if request.action == Action.REJECT:
            reason = (request.text or "").strip()[:1000] or None
            return decide(ids, S.REJECTED, actor=actor.label, now=now, reason=reason, data=data)
        if request.action == Action.SKIP:
            return decide(ids, S.SKIPPED, actor=actor.label, now=now, data=data)
        if request.action == Action.UNSKIP:
            held = any(p.status == S.HELD for p in posts)
            article = self.storage.get_article(request.article_id)
            back = S.HELD if held or (article is not None and article.held) else S.PENDING
            return decide(ids, back, actor=actor.label, now=now, allowed_from=(S.SKIPPED,),
                          data=data)  # fmt: skip
        if request.action == Action.RETRY:
            return decide(ids, S.APPROVED, actor=actor.label, now=now,
                          allowed_from=(S.FAILED, S.NEEDS_HUMAN), data={**data, "retry": True})  # fmt: skip
        if request.action == Action.SCHEDULE:
            if request.when is None:
                return Result("invalid", T.TIME_INVALID.format(text=""), ())
            if request.when <= now:
                return Result("invalid", T.TIME_PAST.format(when=local_time(request.when)), ())
            return decide(ids, S.SCHEDULED, actor=actor.label, now=now,
                          scheduled_for=request.when, data=data)  # fmt: skip
        return self._edit(request, actor, now, movable)

    def _edit(
        self, request: Request, actor: Actor, now: datetime, movable: list[PostRecord]
    ) -> list[PostRecord] | Result:
        n = request.article_id
        if request.channel is None or len(movable) != 1:
            return Result("invalid", T.EDIT_ONE_CHANNEL.format(n=n), ())
        record = movable[0]
        kind = self.kinds.get(record.channel, "")
        label = KIND_NAMES.get(kind, record.channel)
        rule = self.edit_rules.get(kind)
        if rule is None:
            return Result("invalid", T.EDIT_NOT_SUPPORTED.format(label=label), ())
        try:
            edited = apply_edit(record, rule, request.text or "")
        except EditError as exc:
            if exc.reason == "empty":
                return Result("invalid", T.EDIT_EMPTY, ())
            text = T.EDIT_TOO_LONG.format(length=exc.length, limit=exc.limit, label=label)
            return Result("invalid", text, ())
        saved = self.storage.edit_post(record.id, edited, actor=actor.label, now=now)
        return [saved] if saved is not None else []
