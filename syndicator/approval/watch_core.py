"""What the staff can do with a change-watch alert, whatever the surface (Telegram, Zalo bot).

The watcher (publishing/watch_runner.py) raises the alert; a surface shows it and turns what
the person did (a Telegram button, a typed Zalo command) into one of these steps:
- `render_update`: re-render every live post from the current article (the texts an approver
  must see before anything is edited), audited `watch.update_rendered`;
- `approve_update`: send exactly those texts (checked by their revision) through
  publishing/aftercare.py `correct()` (Graph post edit, Zalo article/update), audited
  `watch.update_approved`, then `post.corrected` / `post.update_failed` per post;
- `dismiss`: the current text becomes the baseline, audited `watch.dismissed`;
- take-down goes through publishing/aftercare.py `take_down()` (approval/takedown.py on
  Telegram, zalo_bot/watch.py on Zalo).
The surfaces differ only in how they show an alert and bind a person's action to the version
they saw (the Telegram message and button revision; the Zalo chat's stored "seen" value).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from syndicator.approval import texts as T
from syndicator.approval.decisions import Actor
from syndicator.publishing.aftercare import correct
from syndicator.publishing.watch_runner import rebase, save
from syndicator.storage import PostRecord, Storage, aio
from syndicator.types import Article, Post, PostStatus

if TYPE_CHECKING:
    from channels.base import Channel

REVISION_LEN = 8  # the same length as buttons.REVISION_LEN (callback data stays short)


def article_revision(article: Article) -> str:
    """Eight hex digits of the article version an alert shows."""
    return hashlib.sha256(article.content_hash.encode()).hexdigest()[:REVISION_LEN]


def posts_revision(posts: list[Post]) -> str:
    """Eight hex digits of the re-rendered payloads shown for approval."""
    joined = "|".join(f"{p.id}={sorted(p.payload.items())!r}" for p in posts)
    return hashlib.sha256(joined.encode()).hexdigest()[:REVISION_LEN]


def alert_key(article: Article, state: dict[str, Any]) -> str:
    """Which alert a person saw: its kind, the article version and the HTTP status, so an
    action typed for an older alert (or an older version) is told apart from the current one."""
    return f"{state.get('kind')}:{article_revision(article)}:{state.get('http') or ''}"


def label(kinds: Mapping[str, str], channel: str) -> str:
    return T.KIND_NAMES.get(kinds.get(channel, ""), channel)


def live_posts(storage: Storage, article_id: int) -> list[PostRecord]:
    return [p for p in storage.list_posts(article_id=article_id)
            if p.status == PostStatus.PUBLISHED]  # fmt: skip


def rerender(channels: Mapping[str, Channel], record: PostRecord, article: Article) -> Post | None:
    """The live post re-rendered from the current article, keeping the post's shape (a photo
    post stays a photo post: Graph cannot turn one into the other by an edit)."""
    channel = channels.get(record.channel)
    if channel is None:
        return None
    rendered = channel.render(article)
    payload = {**record.payload,
               **{k: v for k, v in rendered.payload.items() if k in record.payload}}  # fmt: skip
    return replace(record.post, payload=payload, preview_text=rendered.preview_text)


def rendered(
    storage: Storage, channels: Mapping[str, Channel], article: Article
) -> list[tuple[PostRecord, Post]]:
    """Each live post whose re-rendered payload differs from what is live (blocking)."""
    pairs = []
    for record in live_posts(storage, article.id or 0):
        post = rerender(channels, record, article)
        if post is not None and post.payload != record.payload:
            pairs.append((record, post))
    return pairs


def alert_text(
    storage: Storage, kinds: Mapping[str, str], article: Article, state: dict[str, Any]
) -> str:
    """The alert: what happened, the difference, where the article is live (plain text)."""
    assert article.id is not None
    if state.get("kind") == "withdrawn":
        lines = [T.WATCH_WITHDRAWN_HEAD.format(article=article.id, status=state.get("http"))]
    else:
        lines = [T.WATCH_CHANGED_HEAD.format(article=article.id)]
    lines += [T.WATCH_TITLE.format(title=article.title),
              T.WATCH_AGENCY.format(agency=article.agency)]  # fmt: skip
    change = state.get("change") or {}
    if state.get("kind") == "changed":
        if change.get("title_changed"):
            lines.append(T.WATCH_TITLE_CHANGED)
        else:
            share = f"{float(change.get('changed_share', 0)) * 100:.0f}"
            lines.append(T.WATCH_TEXT_CHANGED.format(share=share))
        lines.append(T.WATCH_BEFORE.format(text=change.get("before") or T.WATCH_EMPTY))
        lines.append(T.WATCH_AFTER.format(text=change.get("after") or T.WATCH_EMPTY))
    live = ", ".join(label(kinds, p.channel) for p in live_posts(storage, article.id))
    lines += [T.WATCH_LIVE.format(channels=live or T.WATCH_EMPTY),
              T.WATCH_LINK.format(url=article.url)]  # fmt: skip
    return "\n".join(lines)


def dismiss(storage: Storage, article: Article, state: dict[str, Any], who: Actor,
            now: datetime) -> None:  # fmt: skip
    """Bỏ qua: audited, and the article is watched from what it is now (blocking)."""
    assert article.id is not None
    storage.record_event("watch.dismissed", actor=who.label, subject=f"article:{article.id}",
                         data={"kind": state.get("kind"), "via": who.surface}, now=now)  # fmt: skip
    save(storage, article.id, rebase(state, article), now)


@dataclass(frozen=True, slots=True)
class Rendered:
    """`status`: rendered | nothing_live | same; with the pairs and their revision."""

    status: str
    pairs: tuple[tuple[PostRecord, Post], ...] = ()
    revision: str = ""


def render_update(
    storage: Storage, channels: Mapping[str, Channel], article: Article, state: dict[str, Any],
    who: Actor, now: datetime,
) -> Rendered:  # fmt: skip
    """Cập nhật: re-render the live posts; the state waits for approval (blocking)."""
    assert article.id is not None
    if not live_posts(storage, article.id):
        return Rendered("nothing_live")
    pairs = rendered(storage, channels, article)
    if not pairs:
        return Rendered("same")
    rev = posts_revision([p for _, p in pairs])
    storage.record_event(
        "watch.update_rendered", actor=who.label, subject=f"article:{article.id}",
        data={"posts": [r.id for r, _ in pairs], "revision": rev,
              "article_hash": article.content_hash, "via": who.surface}, now=now,
    )  # fmt: skip
    state.update(status="confirming", revision=rev)
    save(storage, article.id, state, now)
    return Rendered("rendered", tuple(pairs), rev)


@dataclass(frozen=True, slots=True)
class Updated:
    """`status`: done | partial (some channel refused) | stale | gone | same."""

    status: str
    lines: tuple[str, ...] = ()


async def approve_update(
    storage: Storage, channels: Mapping[str, Channel], kinds: Mapping[str, str],
    article: Article, state: dict[str, Any], revision: str | None, who: Actor, now: datetime,
) -> Updated:  # fmt: skip
    """Duyệt cập nhật: only the texts shown (`revision`) are sent, then corrected live; the
    storage work runs on the storage thread, the channel calls here."""
    assert article.id is not None
    pairs = await aio.read(rendered, storage, channels, article)
    if state.get("status") != "confirming" or not pairs:
        return Updated("gone" if pairs else "same")
    if posts_revision([p for _, p in pairs]) != revision:
        return Updated("stale")
    await aio.call(
        storage.record_event, "watch.update_approved", actor=who.label,
        subject=f"article:{article.id}",
        data={"posts": [r.id for r, _ in pairs], "revision": revision, "via": who.surface},
        now=now,
    )  # fmt: skip
    lines, ok = [], True
    for record, post in pairs:
        done = await correct(storage, channels[record.channel], record, post, actor=who.label,
                             now=now, via="watch")  # fmt: skip
        error = done.message.split("—", 1)[-1].strip()
        template = T.WATCH_UPDATE_OK if done.ok else T.WATCH_UPDATE_FAILED
        lines.append(template.format(label=label(kinds, record.channel), error=error))
        ok = ok and done.ok
    if ok:
        await aio.call(save, storage, article.id, rebase(state, article), now)
    return Updated("done" if ok else "partial", tuple(lines))
