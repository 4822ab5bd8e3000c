"""Correcting a published post from a chat: propose the new text, then an approver approves.

The core every chat surface uses (the Telegram buttons in approval/correct_buttons.py, the
Zalo bot's `sửa N fb|zalo …` / `duyệt sửa N`). A correction of a live post is a decision like
any other: somebody proposes the new text, it is shown, an approver approves exactly what was
shown, and only then the live post is edited through publishing/aftercare.py `correct()`
(Graph post edit, Zalo `article/update`), the same path as `syndicator correct`.

The pending proposal is a small JSON value in `approval_values` (`correction:<post id>`), so a
restart neither loses it nor lets it be approved twice; it names the live payload it was made
against (`base`, the payload hash) and a new proposal for the same post replaces the old one.
Every step is audited: `post.correction_proposed`, `post.correction_approved` (the proposer
and the approver), then `post.corrected` or `post.update_failed` from aftercare, and
`post.correction_cancelled`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from syndicator.approval import texts as T
from syndicator.approval.decisions import Actor
from syndicator.approval.edits import EditError, EditRule, apply_edit
from syndicator.publishing.aftercare import correct
from syndicator.storage import PostRecord, Storage, aio
from syndicator.storage.posts import payload_hash
from syndicator.types import Article, PostStatus

if TYPE_CHECKING:
    from channels.base import Channel

log = structlog.get_logger("syndicator.approval.corrections")
KEY = "correction:{post}"
REVISION_LEN = 8  # the same length as buttons.REVISION_LEN (callback data stays short)
PROPOSED, APPROVED, CANCELLED = (
    "post.correction_proposed",
    "post.correction_approved",
    "post.correction_cancelled",
)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A correction waiting for approval."""

    post_id: int
    payload: dict[str, Any]
    preview_text: str
    base: str  # payload hash of the live post when the correction was proposed
    actor: str  # the proposer's audit label
    name: str  # the proposer's display name
    url_restored: bool = False

    @property
    def revision(self) -> str:
        """Eight hex digits of the proposed payload: the approve button carries them."""
        return payload_hash(self.payload)[:REVISION_LEN]


@dataclass(frozen=True, slots=True)
class Outcome:
    """`status` is done | invalid (the person may answer again) | stale | gone | failed."""

    status: str
    message: str


def load(storage: Storage, post_id: int) -> Proposal | None:
    raw = storage.get_value(KEY.format(post=post_id))
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return Proposal(
            post_id=post_id, payload=dict(data["payload"]), preview_text=str(data["preview"]),
            base=str(data["base"]), actor=str(data["actor"]), name=str(data.get("name") or ""),
            url_restored=bool(data.get("url_restored")),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None  # a damaged value is no proposal; a new one replaces it


def pending(storage: Storage, posts: list[PostRecord]) -> list[tuple[PostRecord, Proposal]]:
    """The proposals waiting on the live posts among `posts`."""
    found = []
    for record in posts:
        if record.status == PostStatus.PUBLISHED:
            proposal = load(storage, record.id)
            if proposal is not None:
                found.append((record, proposal))
    return found


def label_of(kinds: Mapping[str, str], channel: str) -> str:
    return T.KIND_NAMES.get(kinds.get(channel, ""), channel)


def with_link(
    text: str, record: PostRecord, article: Article | None, kind: str
) -> tuple[str, bool]:
    """Facebook: the article link must stay in the text (reconcile finds a post by it, and
    readers need the source), so when the new text lacks it, add it back at the end as
    `syndicator correct --text` does. Other channels keep their text as written."""
    if kind != "facebook_page":
        return text, False
    link = str(record.payload.get("link") or (article.url if article else "") or "")
    known = {u for u in (link, article.canonical_url if article else "", article.url if article
             else "") if u}  # fmt: skip
    if not link or any(u in text for u in known):
        return text, False
    return f"{text.rstrip()}\n\nXem chi tiết: {link}", True


def propose(
    storage: Storage, rules: Mapping[str, EditRule], kinds: Mapping[str, str],
    record: PostRecord, text: str, who: Actor, now: datetime,
) -> Outcome:  # fmt: skip
    """Check the new text and store it as the pending correction of a live post."""
    label = label_of(kinds, record.channel)
    if record.status != PostStatus.PUBLISHED or not record.external_id:
        return Outcome("gone", T.CORRECT_NOT_LIVE.format(label=label, article=record.article_id))
    kind = kinds.get(record.channel, "")
    rule = rules.get(kind)
    if rule is None:
        return Outcome("gone", T.EDIT_NOT_SUPPORTED.format(label=label))
    if not text.strip():  # before the link is added: a link alone is no correction
        return Outcome("invalid", T.EDIT_EMPTY)
    article = storage.get_article(record.article_id)
    full, restored = with_link(text.strip(), record, article, kind)
    try:
        post = apply_edit(record, rule, full)
    except EditError as exc:
        if exc.reason == "empty":
            return Outcome("invalid", T.EDIT_EMPTY)
        return Outcome(
            "invalid", T.EDIT_TOO_LONG.format(length=exc.length, limit=exc.limit, label=label)
        )
    if post.payload == record.payload:
        return Outcome("invalid", T.CORRECT_SAME.format(label=label))
    proposal = Proposal(
        record.id, post.payload, post.preview_text, record.payload_hash, who.label,
        who.name or who.user_id, restored,
    )  # fmt: skip
    value = {"payload": proposal.payload, "preview": proposal.preview_text, "base": proposal.base,
             "actor": proposal.actor, "name": proposal.name, "url_restored": restored}  # fmt: skip
    storage.set_value(KEY.format(post=record.id), json.dumps(value, ensure_ascii=False), now)
    storage.record_event(
        PROPOSED, actor=who.label, subject=f"post:{record.id}",
        data={"channel": record.channel, "article": record.article_id, "base": record.payload_hash,
              "new_hash": payload_hash(post.payload), "url_restored": restored,
              "via": who.surface}, now=now,
    )  # fmt: skip
    message = T.CORRECT_PROPOSED.format(label=label, article=record.article_id)
    return Outcome("done", message + (T.URL_RESTORED if restored else ""))


def cancel(storage: Storage, kinds: Mapping[str, str], post_id: int, who: Actor,
           now: datetime, revision: str | None) -> Outcome:  # fmt: skip
    """Drop the pending correction shown (`revision`); the live post stays as it is."""
    proposal, record = load(storage, post_id), storage.get_post(post_id)
    if proposal is None or record is None:
        return Outcome("gone", T.CORRECT_GONE)
    if revision is not None and revision != proposal.revision:
        return Outcome("stale", T.ANS_STALE)  # a newer proposal: nobody cancels unseen text
    storage.delete_values([KEY.format(post=post_id)])
    storage.record_event(
        CANCELLED, actor=who.label, subject=f"post:{post_id}",
        data={"channel": record.channel, "article": record.article_id,
              "proposed_by": proposal.actor, "via": who.surface}, now=now,
    )  # fmt: skip
    return Outcome("done", T.CORRECT_CANCELLED.format(label=label_of(kinds, record.channel)))


def _approving(
    storage: Storage, channels: Mapping[str, Channel], kinds: Mapping[str, str], post_id: int,
    who: Actor, now: datetime, revision: str | None,
) -> Outcome | tuple[Proposal, PostRecord, Channel]:  # fmt: skip
    """The checks and the audit before the edit is sent (blocking: run on the storage thread):
    an Outcome when there is nothing to send, else what to send it with."""
    proposal, record = load(storage, post_id), storage.get_post(post_id)
    if proposal is None or record is None:
        return Outcome("gone", T.CORRECT_GONE)
    label = label_of(kinds, record.channel)
    if revision is not None and revision != proposal.revision:
        return Outcome("stale", T.ANS_STALE)
    if record.status != PostStatus.PUBLISHED or record.payload_hash != proposal.base:
        # Taken down, or corrected another way since: this text was written against a post
        # that is no longer live as it was. Drop it; the person proposes again if needed.
        storage.delete_values([KEY.format(post=post_id)])
        storage.record_event(
            CANCELLED, actor=who.label, subject=f"post:{post_id}",
            data={"channel": record.channel, "reason": "live_post_changed",
                  "status": record.status.value, "via": who.surface}, now=now,
        )  # fmt: skip
        return Outcome("stale", T.CORRECT_OUTDATED.format(label=label))
    channel = channels.get(record.channel)
    if channel is None:
        log.warning("correction_no_channel", post=post_id, channel=record.channel)
        return Outcome("failed", T.CORRECT_FAILED.format(label=label))
    storage.record_event(
        APPROVED, actor=who.label, subject=f"post:{post_id}",
        data={"channel": record.channel, "article": record.article_id,
              "proposed_by": proposal.actor, "new_hash": payload_hash(proposal.payload),
              "via": who.surface}, now=now,
    )  # fmt: skip
    return proposal, record, channel


async def approve(
    storage: Storage, channels: Mapping[str, Channel], kinds: Mapping[str, str], post_id: int,
    who: Actor, now: datetime, revision: str | None,
) -> Outcome:  # fmt: skip
    """Approve exactly the proposal shown (`revision`; None: the surface showed it by number
    only, as the Zalo bot's confirmation does), then edit the live post. Storage work runs
    on the storage thread (aio.call), the channel call here."""
    ready = await aio.call(_approving, storage, channels, kinds, post_id, who, now, revision)
    if isinstance(ready, Outcome):
        return ready
    proposal, record, channel = ready
    label = label_of(kinds, record.channel)
    post = replace(record.post, payload=proposal.payload, preview_text=proposal.preview_text)
    # A plain call: aftercare owns exactly-once (the stored payload changes only once the
    # channel confirmed; the same edit sent twice leaves the same post).
    done = await correct(storage, channel, record, post, actor=who.label, now=now,
                         via=who.surface)  # fmt: skip
    if not done.ok:
        # The proposal stays, so the same text can be approved again once the channel answers.
        # Editors read a plain sentence; the technical answer is in the log and the trail.
        log.warning("correction_failed", post=post_id, channel=record.channel, error=done.message)
        return Outcome("failed", T.CORRECT_FAILED.format(label=label))
    await aio.call(storage.delete_values, [KEY.format(post=post_id)])
    return Outcome("done", T.CORRECT_DONE.format(label=label, article=record.article_id))
