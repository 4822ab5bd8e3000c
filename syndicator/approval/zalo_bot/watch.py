"""Change-watch alerts on the Zalo bot: the alert as text, then typed commands.

Zalo basic bots have no buttons, so the three Telegram buttons are sentences:
  cập nhật N           re-render the live posts and show the texts that would go out
  duyệt cập nhật N     send exactly those texts (Graph post edit, Zalo article/update)
  gỡ N <lý do>         take every live post down (admins; the reason is the confirmation)
  bỏ qua N             keep the posts; the current article becomes the baseline
The steps are approval/watch_core.py, the same code as the Telegram buttons, audited the same
way (`watch.*`, then aftercare's `post.*`), with `via` = "zalo_bot".

Binding to what was seen: every alert (and every re-rendered update) sent to a chat is stored
per chat (`zalo_bot:watch_seen:<article>:<chat>`, the alert key and the update revision). A
command is refused when the alert was handled meanwhile, or when the article changed again
since the alert that chat saw; the newest alert is then sent with the refusal.

The hand-off: the watcher calls `queue_alert` on the storage thread (publishing/watch_runner's
`notify`, wired in build.py); the surface's tick sends what is queued (`deliver`), so a Zalo
outage or a restart delays an alert and never loses it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from syndicator.approval import watch_core as W
from syndicator.approval.decisions import Action, Actor
from syndicator.approval.preview import local_time
from syndicator.approval.zalo_bot import render
from syndicator.approval.zalo_bot import texts as T
from syndicator.approval.zalo_bot.client import TransportError, ZaloBotError
from syndicator.approval.zalo_bot.commands import Command
from syndicator.publishing.aftercare import take_down
from syndicator.publishing.watch_runner import load, rebase, save
from syndicator.storage import Storage, aio
from syndicator.types import Article

if TYPE_CHECKING:
    from syndicator.approval.zalo_bot.surface import ZaloBotSurface

log = structlog.get_logger("syndicator.approval.zalo_bot")
DUE = "zalo_bot:watch_due"  # JSON list of article ids whose alert is still to send
SEEN = "zalo_bot:watch_seen:{article}:{chat}"  # {"alert": key, "update": revision | null}
NEW_TEXT_MAX = 1200  # characters of each re-rendered post shown for approval
OPEN = ("alerted", "confirming")


def queue_alert(storage: Storage, article_id: int, now: datetime) -> None:
    """The watcher's hand-off (blocking; on the storage thread): remember the alert to send."""
    due = _due(storage)
    if article_id not in due:
        storage.set_value(DUE, json.dumps([*due, article_id]), now)


def _due(storage: Storage) -> list[int]:
    try:
        value = json.loads(storage.get_value(DUE) or "[]")
    except ValueError:
        return []
    return [int(a) for a in value if isinstance(a, int)] if isinstance(value, list) else []


def _seen(storage: Storage, article_id: int, chat_id: str) -> dict[str, Any]:
    try:
        value = json.loads(storage.get_value(SEEN.format(article=article_id, chat=chat_id)) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _mark(storage: Storage, article_id: int, chat_id: str, now: datetime, **fields: Any) -> None:
    seen = {**_seen(storage, article_id, chat_id), **fields}
    storage.set_value(SEEN.format(article=article_id, chat=chat_id), json.dumps(seen), now)


def alert_message(surface: ZaloBotSurface, article: Article, state: dict[str, Any]) -> str:
    """The alert as the Zalo bot sends it: the shared text and the commands (blocking)."""
    how = T.WATCH_HOW if state.get("kind") == "changed" else T.WATCH_HOW_WITHDRAWN
    text = W.alert_text(surface.storage, surface.kinds, article, state)
    return f"{text}\n\n{how.format(n=article.id)}"


# -- sending the queued alerts -------------------------------------------------------------


def _pending(surface: ZaloBotSurface) -> list[tuple[int, str, list[tuple[str, str]]]]:
    """(article, alert key, [(chat, text)]) still to send; handled alerts leave the queue
    (blocking: storage)."""
    storage, out, keep = surface.storage, [], []
    chats = sorted({i.chat_id for i in storage.linked_identities("zalo_bot")})
    for article_id in _due(storage):
        state, article = load(storage, article_id), storage.get_article(article_id)
        if state is None or article is None or state.get("status") not in OPEN:
            continue  # handled on any surface meanwhile
        keep.append(article_id)
        key = W.alert_key(article, state)
        todo = [c for c in chats if _seen(storage, article_id, c).get("alert") != key]
        if todo:
            text = alert_message(surface, article, state)
            out.append((article_id, key, [(c, text) for c in todo]))
    if keep != _due(storage):
        storage.set_value(DUE, json.dumps(keep), surface.clock())
    return out


async def deliver(surface: ZaloBotSurface, now: datetime) -> int:
    """Send each queued alert to each linked chat that has not got it; a chat's failed send
    is retried at the next tick (the alert stays queued until it is handled)."""
    sent = 0
    for article_id, key, targets in await aio.call(_pending, surface):
        for chat_id, text in targets:
            if await _send(surface, chat_id, text):
                await aio.call(_mark, surface.storage, article_id, chat_id, now, alert=key,
                               update=None)  # fmt: skip
                sent += 1
    return sent


async def _send(surface: ZaloBotSurface, chat_id: str, text: str) -> bool:
    for piece in render.split_text(text):
        try:
            await surface._paced(chat_id, surface.client.send_message(chat_id, piece))
        except (ZaloBotError, TransportError) as exc:
            log.warning("zalo_watch_alert_failed", chat=chat_id, error=str(exc))
            return False
    return True


# -- the commands --------------------------------------------------------------------------


async def answer(surface: ZaloBotSurface, command: Command, actor: Actor, chat_id: str,
                 linked: bool, now: datetime) -> str:  # fmt: skip
    """The reply to `cập nhật N`, `duyệt cập nhật N`, `gỡ N …`, `bỏ qua N`."""
    n = command.article_id
    assert n is not None
    if not await surface.decisions.may(Action.APPROVE, actor):
        await surface.decisions.refuse_async(actor, f"article:{n}", now, T.REFUSED,
                                             command=command.kind)  # fmt: skip
        return T.REFUSED + ("" if linked else "\n" + T.NOT_LINKED)
    if command.kind == "watch_takedown":
        return await _take_down(surface, command, actor, chat_id, now)
    if command.kind == "watch_approve":
        return await _approve(surface, n, actor, chat_id, now)
    return await aio.call(_decide, surface, command, actor, chat_id, now)


def _check(
    surface: ZaloBotSurface, n: int, chat_id: str, now: datetime
) -> str | tuple[Article, dict[str, Any]]:
    """The open alert this chat saw, or the refusal to answer (blocking: storage). A chat
    that did not see the current alert gets it with the refusal, and it counts as seen."""
    storage = surface.storage
    state, article = load(storage, n), storage.get_article(n)
    if state is None or article is None or state.get("status") not in OPEN:
        return T.WATCH_HANDLED.format(n=n)
    key = W.alert_key(article, state)
    seen = _seen(storage, n, chat_id).get("alert")
    if seen == key:
        return article, state
    _mark(storage, n, chat_id, now, alert=key, update=None)
    head = T.WATCH_STALE if seen else T.WATCH_NOT_SEEN
    return head.format(n=n) + "\n\n" + alert_message(surface, article, state)


def _decide(surface: ZaloBotSurface, command: Command, actor: Actor, chat_id: str,
            now: datetime) -> str:  # fmt: skip
    """`bỏ qua N` and `cập nhật N` (blocking: storage reads and writes)."""
    n = command.article_id or 0
    checked = _check(surface, n, chat_id, now)
    if isinstance(checked, str):
        return checked
    article, state = checked
    if command.kind == "watch_dismiss":
        W.dismiss(surface.storage, article, state, actor, now)
        return T.WATCH_DISMISSED.format(n=n, who=actor.name, when=local_time(now))
    if state.get("kind") != "changed":
        return T.WATCH_NOTHING_TO_UPDATE.format(n=n)
    return _show_update(surface, article, state, actor, chat_id, now)


def _show_update(surface: ZaloBotSurface, article: Article, state: dict[str, Any],
                 actor: Actor, chat_id: str, now: datetime) -> str:  # fmt: skip
    """Re-render and show the new texts; this chat's approval is bound to them (blocking)."""
    from syndicator.approval import texts as TG

    n = article.id or 0
    done = W.render_update(surface.storage, surface.channels, article, state, actor, now)
    if done.status != "rendered":
        return TG.WATCH_NOTHING_LIVE if done.status == "nothing_live" else TG.WATCH_SAME
    _mark(surface.storage, n, chat_id, now, update=done.revision)
    lines = [TG.WATCH_CONFIRM_HEAD.format(article=n, who=actor.name)]
    for record, post in done.pairs:
        lines.append(TG.WATCH_NEW_TEXT.format(label=W.label(surface.kinds, record.channel),
                                              text=post.preview_text[:NEW_TEXT_MAX]))  # fmt: skip
    lines.append(T.WATCH_CONFIRM_HOW.format(n=n))
    return "\n\n".join(lines)


async def _approve(surface: ZaloBotSurface, n: int, actor: Actor, chat_id: str,
                   now: datetime) -> str:  # fmt: skip
    """`duyệt cập nhật N`: the texts this chat was shown, and nothing else, go out."""
    checked = await aio.call(_check, surface, n, chat_id, now)
    if isinstance(checked, str):
        return checked
    article, state = checked
    shown = (await aio.read(_seen, surface.storage, n, chat_id)).get("update")
    if state.get("status") != "confirming" or not shown:
        return T.WATCH_NO_UPDATE.format(n=n)
    done = await W.approve_update(surface.storage, surface.channels, surface.kinds, article,
                                  state, shown, actor, now)  # fmt: skip
    if done.status == "stale":  # re-rendered by someone else since: show the newest texts
        fresh = await aio.call(_show_update, surface, article, state, actor, chat_id, now)
        return T.WATCH_UPDATE_STALE.format(n=n) + "\n\n" + fresh
    if done.status in ("gone", "same"):
        from syndicator.approval import texts as TG

        return T.WATCH_HANDLED.format(n=n) if done.status == "gone" else TG.WATCH_SAME
    head = T.WATCH_UPDATED if done.status == "done" else T.WATCH_PARTIAL
    return "\n".join([head.format(n=n, who=actor.name, when=local_time(now)), *done.lines])


async def _take_down(surface: ZaloBotSurface, command: Command, actor: Actor, chat_id: str,
                     now: datetime) -> str:  # fmt: skip
    """`gỡ N <lý do>`: admins only; the reason confirms; every live post is taken down."""
    n = command.article_id or 0
    if not await aio.read(surface.decisions.is_admin, actor):
        await surface.decisions.refuse_async(actor, f"article:{n}", now, T.WATCH_NOT_ADMIN,
                                             action="takedown")  # fmt: skip
        return T.WATCH_NOT_ADMIN
    reason = command.text.strip()
    if not reason:
        return T.WATCH_NEED_REASON.format(n=n)
    checked = await aio.call(_check, surface, n, chat_id, now)
    if isinstance(checked, str):
        return checked
    article, state = checked
    live = await aio.read(W.live_posts, surface.storage, n)
    await aio.call(
        surface.storage.record_event, "watch.takedown_asked", actor=actor.label,
        subject=f"article:{n}", data={"kind": state.get("kind"), "via": actor.surface}, now=now,
    )  # fmt: skip
    from syndicator.approval import texts as TG

    if not live:
        return TG.TAKEDOWN_NOTHING
    lines, ok = [T.WATCH_TAKEN_DOWN.format(n=n, who=actor.name, when=local_time(now))], True
    for record in live:
        done = await take_down(surface.storage, surface.channels, record, actor=actor.label,
                               reason=reason[:1000], now=now, via=actor.surface)  # fmt: skip
        label = W.label(surface.kinds, record.channel)
        lines.append((TG.TAKEDOWN_OK if done.ok else TG.TAKEDOWN_PENDING).format(label=label))
        ok = ok and done.ok
    if ok:  # nothing live any more: the alert is handled (a pending delete keeps it open)
        await aio.call(save, surface.storage, n, rebase(state, article), now)
    return "\n".join(lines)
