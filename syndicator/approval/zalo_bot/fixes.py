"""Correcting a published post from the Zalo bot: `sửa N fb|zalo <text>`, then `duyệt sửa N`.

Zalo basic bots have no buttons, so the confirmation is a typed sentence: `sửa N fb …` on an
article whose post for that channel is live proposes a correction (approval/corrections.py,
the same core as Telegram's ✏️ Sửa bài đã đăng) and answers with the text that would go out;
`duyệt sửa N [fb|zalo]` (any approver) edits the live posts, `huỷ sửa N [fb|zalo]` drops the
proposals. Without a channel, every pending proposal of the article is meant. The proposal is
stored in the database, so it may be approved from Telegram or after a restart too.
`duyệt sửa N` / `huỷ sửa N` are bound to the proposal the person was shown, as the Telegram
button carries its revision: each chat's last shown proposal revision is stored
(`zalo_bot:fix_seen:<post>:<chat>`); a proposal replaced since (another `sửa N …`, from any
surface) or never shown to that chat is refused, shown, and needs the command again.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from syndicator.approval import corrections
from syndicator.approval.decisions import Action, Actor
from syndicator.approval.zalo_bot import texts as T
from syndicator.approval.zalo_bot.commands import Command
from syndicator.storage import PostRecord, aio
from syndicator.types import PostStatus

if TYPE_CHECKING:
    from syndicator.approval.zalo_bot.surface import ZaloBotSurface

PREVIEW_MAX = 1500  # characters of the proposed text repeated back
SEEN = "zalo_bot:fix_seen:{post}:{chat}"  # the proposal revision last shown to that chat


def _posts(surface: ZaloBotSurface, command: Command) -> list[PostRecord]:
    posts = surface.storage.list_posts(article_id=command.article_id)
    kind = command.kind_of_channel
    return [p for p in posts if kind is None or surface.kinds.get(p.channel) == kind]


def wants(surface: ZaloBotSurface, command: Command) -> bool:
    """Is this command a correction? `sửa` of a live post, `duyệt sửa`, `huỷ sửa`
    (blocking: a storage read)."""
    if command.kind in ("approve_fix", "cancel_fix"):
        return True
    if command.kind != "edit" or command.kind_of_channel is None:
        return False
    return any(p.status == PostStatus.PUBLISHED for p in _posts(surface, command))


async def answer(surface: ZaloBotSurface, command: Command, actor: Actor, chat_id: str,
                 linked: bool, now: datetime) -> str:  # fmt: skip
    """The reply to a correction command; storage work on the storage thread (aio)."""
    n = command.article_id
    if not await surface.decisions.may(Action.APPROVE, actor):
        await surface.decisions.refuse_async(actor, f"article:{n}", now, T.REFUSED,
                                             command=command.kind)  # fmt: skip
        return T.REFUSED + ("" if linked else "\n" + T.NOT_LINKED)
    if command.kind == "edit":
        return await aio.call(_propose, surface, command, actor, chat_id, now)
    waiting = await aio.read(lambda: corrections.pending(surface.storage, _posts(surface, command)))
    if not waiting:
        return T.FIX_NONE.format(n=n)
    lines = []
    for record, proposal in waiting:
        # Bound to the proposal this chat was shown (its revision, stored when it was shown):
        # a proposal replaced since, or never shown here, is shown now and nothing is done.
        seen = await aio.read(surface.storage.get_value, SEEN.format(post=record.id, chat=chat_id))
        if seen != proposal.revision:
            lines.append(await aio.call(_show, surface, record, proposal, chat_id, seen, now))
            continue
        if command.kind == "approve_fix":
            outcome = await corrections.approve(
                surface.storage, surface.channels, surface.kinds, record.id, actor, now, seen
            )
        else:
            outcome = await aio.call(corrections.cancel, surface.storage, surface.kinds,
                                     record.id, actor, now, seen)  # fmt: skip
        if outcome.status == "stale":  # replaced between our read and the check: show it
            fresh = await aio.read(corrections.load, surface.storage, record.id)
            if fresh is not None:
                lines.append(await aio.call(_show, surface, record, fresh, chat_id, seen, now))
                continue
        lines.append(outcome.message)
    return "\n".join(lines)


def _show(surface: ZaloBotSurface, record: PostRecord, proposal: corrections.Proposal,
          chat_id: str, seen: str | None, now: datetime) -> str:  # fmt: skip
    """The refusal that shows the current proposal; it counts as seen from now (blocking)."""
    surface.storage.set_value(SEEN.format(post=record.id, chat=chat_id), proposal.revision, now)
    template = T.FIX_REPLACED if seen else T.FIX_NOT_SEEN
    return template.format(
        label=corrections.label_of(surface.kinds, record.channel), n=record.article_id,
        who=proposal.name, text=proposal.preview_text[:PREVIEW_MAX],
        code=T.FIX_CODE.format(revision=proposal.revision),
    )  # fmt: skip


def _propose(surface: ZaloBotSurface, command: Command, actor: Actor, chat_id: str,
             now: datetime) -> str:  # fmt: skip
    """`sửa N fb|zalo <text>` of a live post: store the proposal (blocking: storage); the
    proposer has seen it, so their `duyệt sửa N` approves exactly this text."""
    record = next(p for p in _posts(surface, command) if p.status == PostStatus.PUBLISHED)
    outcome = corrections.propose(
        surface.storage, surface.decisions.rules, surface.kinds, record, command.text,
        actor, now,
    )  # fmt: skip
    if outcome.status != "done":
        return outcome.message
    proposal = corrections.load(surface.storage, record.id)
    text = proposal.preview_text if proposal else ""
    if proposal is not None:
        surface.storage.set_value(SEEN.format(post=record.id, chat=chat_id), proposal.revision, now)
    return T.FIX_PROPOSED.format(
        message=outcome.message, label=corrections.label_of(surface.kinds, record.channel),
        text=text[:PREVIEW_MAX], n=command.article_id,
    ) + ("\n" + T.FIX_CODE.format(revision=proposal.revision) if proposal else "")  # fmt: skip
