"""Correcting a published post from the Zalo bot: `sửa N fb|zalo <text>`, then `duyệt sửa N`.

Zalo basic bots have no buttons, so the confirmation is a typed sentence: `sửa N fb …` on an
article whose post for that channel is live proposes a correction (approval/corrections.py,
the same core as Telegram's ✏️ Sửa bài đã đăng) and answers with the text that would go out;
`duyệt sửa N [fb|zalo]` (any approver) edits the live posts, `huỷ sửa N [fb|zalo]` drops the
proposals. Without a channel, every pending proposal of the article is meant. The proposal is
stored in the database, so it may be approved from Telegram or after a restart too.
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


async def answer(surface: ZaloBotSurface, command: Command, actor: Actor, linked: bool,
                 now: datetime) -> str:  # fmt: skip
    """The reply to a correction command; storage work on the storage thread (aio)."""
    n = command.article_id
    if not await surface.decisions.may(Action.APPROVE, actor):
        await surface.decisions.refuse_async(actor, f"article:{n}", now, T.REFUSED,
                                             command=command.kind)  # fmt: skip
        return T.REFUSED + ("" if linked else "\n" + T.NOT_LINKED)
    if command.kind == "edit":
        return await aio.call(_propose, surface, command, actor, now)
    waiting = await aio.read(lambda: corrections.pending(surface.storage, _posts(surface, command)))
    if not waiting:
        return T.FIX_NONE.format(n=n)
    lines = []
    for record, _proposal in waiting:
        # The person confirms by number after reading the text this bot sent them (no
        # revision on a typed command), as `duyệt N` does for a waiting post.
        if command.kind == "approve_fix":
            outcome = await corrections.approve(
                surface.storage, surface.channels, surface.kinds, record.id, actor, now, None
            )
        else:
            outcome = await aio.call(corrections.cancel, surface.storage, surface.kinds,
                                     record.id, actor, now, None)  # fmt: skip
        lines.append(outcome.message)
    return "\n".join(lines)


def _propose(surface: ZaloBotSurface, command: Command, actor: Actor, now: datetime) -> str:
    """`sửa N fb|zalo <text>` of a live post: store the proposal (blocking: storage)."""
    record = next(p for p in _posts(surface, command) if p.status == PostStatus.PUBLISHED)
    outcome = corrections.propose(
        surface.storage, surface.decisions.rules, surface.kinds, record, command.text,
        actor, now,
    )  # fmt: skip
    if outcome.status != "done":
        return outcome.message
    proposal = corrections.load(surface.storage, record.id)
    text = proposal.preview_text if proposal else ""
    return T.FIX_PROPOSED.format(
        message=outcome.message, label=corrections.label_of(surface.kinds, record.channel),
        text=text[:PREVIEW_MAX], n=command.article_id,
    )  # fmt: skip
