"""The approval preview, pure: article + stored posts → HTML text (or caption) + keyboard.

What staff read is each post's stored `preview_text`, the human form of the exact payload that
will be sent. Every dynamic string is truncated by its *visible* length first (Telegram counts
the 4096/1024 limits after entity parsing, in UTF-16 units), then HTML-escaped.

Caption strategy: a photo message with the preview as its caption only when the whole preview
fits in the caption with room left for the decision stamp and live links (PHOTO_BUDGET); else a
single text message whose link preview shows the image. One message per article keeps one set
of buttons and one place for the stamp.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from syndicator.approval import plain
from syndicator.approval import texts as T
from syndicator.approval.buttons import data as button
from syndicator.approval.buttons import revision
from syndicator.storage.approval import PostState
from syndicator.storage.posts import PostRecord
from syndicator.types import Article, Flag, PostStatus

S = PostStatus
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
TEXT_MAX = 4096
CAPTION_MAX = 1024
FOOTER_RESERVE = 300  # stamp + live links added after the decision must still fit a caption
PHOTO_BUDGET = CAPTION_MAX - FOOTER_RESERVE
CHANNEL_QUOTE_MAX = 1500  # long Zalo bodies are summarised to this with a note
TITLE_MAX = 300
OPEN = (S.PENDING, S.HELD)
DECIDED = (S.APPROVED, S.PUBLISHING, S.PUBLISHED, S.FAILED, S.NEEDS_HUMAN)

Keyboard = tuple[tuple[tuple[str, str], ...], ...]  # rows of (label, callback_data)
CORRECTION_MAX, CORRECTION_PHOTO_MAX = 1200, 200  # a proposed correction's text shown


@dataclass(frozen=True, slots=True)
class Correction:
    """A correction of a live post waiting for approval (approval/corrections.py)."""

    post_id: int
    channel: str
    who: str  # the proposer's name
    text: str  # the proposed preview_text
    revision: str  # of the proposed payload; the approve button carries it


@dataclass(frozen=True, slots=True)
class PreviewInput:
    """Everything the preview shows; gathered from storage by the caller."""

    article: Article
    posts: tuple[PostRecord, ...]
    kinds: dict[str, str] = field(default_factory=dict)  # channel name -> kind
    version: int = 1
    also_at: tuple[str, ...] = ()  # agencies of duplicates of this article
    urgent: bool = False
    closed: bool = False  # closed by the bot (expired) even if posts look open
    menu: str = "main"  # main | edit | schedule | reject | correct (a published article)
    corrections: tuple[Correction, ...] = ()


@dataclass(frozen=True, slots=True)
class Rendered:
    html: str
    keyboard: Keyboard
    length: int  # visible length in UTF-16 units


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def local_time(when: datetime) -> str:
    return when.astimezone(LOCAL).strftime("%H:%M %d/%m/%Y")


def actor_name(actor: str | None) -> str:
    """'telegram:111 Nguyễn Văn A' (decisions.Actor.label) → 'Nguyễn Văn A', and the same for
    the older 'telegram:111 (Nguyễn Văn A)' stored before it; 'cli:root' stays as it is (staff
    see it came from the command line); rules and the system get a word."""
    if not actor:
        return T.SYSTEM
    match = re.match(r"^(?:telegram|zalo_bot):(\S+)(?: \((.*)\)| (.+))?$", actor)
    if match:
        return match.group(2) or match.group(3) or match.group(1)
    if actor.startswith("rule") or actor == "auto":
        return T.RULE
    if actor.startswith("approval:"):
        return T.SYSTEM
    return actor


def clip(text: str, limit: int, note: str = "…") -> str:
    """At most `limit` UTF-16 units, cut at a word boundary between graphemes, plus `note`."""
    text = unicodedata.normalize("NFC", text)
    if utf16_len(text) <= limit:
        return text
    budget = max(0, limit - utf16_len(note))
    cut = text[:budget]
    while utf16_len(cut) > budget:
        cut = cut[:-1]
    # never leave a combining mark orphaned: step back to a grapheme start
    while cut and len(cut) < len(text) and unicodedata.combining(text[len(cut)]):
        cut = cut[:-1]
    space = cut.rfind(" ")
    if space > budget // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-\n") + note


def is_open(posts: Sequence[PostRecord] | Sequence[PostState], closed: bool = False) -> bool:
    """Waiting for a decision: a post is open, or every channel was switched off."""
    if closed or not posts:
        return False
    return any(p.status in OPEN for p in posts) or all(p.status == S.SKIPPED for p in posts)


def wants_photo(data: PreviewInput) -> bool:
    """Send as a photo with caption only when the whole preview fits the caption budget."""
    if not data.article.image_url:
        return False
    return render(data, limit=TEXT_MAX).length <= PHOTO_BUDGET


# -- building ----------------------------------------------------------------------------------

Block = tuple[str, str, str]  # (kind, visible text, href) with kind in p | b | a | q


def render(data: PreviewInput, *, limit: int, photo: bool = False) -> Rendered:
    """The preview within `limit` visible units; channel texts give way first."""
    head, quotes, foot = _header(data, photo), _channel_quotes(data), _footer(data, photo)
    fixed = sum(utf16_len(text) for _, text, _ in head + foot) + len(head) + len(foot)
    titles = [title for title, _ in quotes]
    fixed += sum(utf16_len(t) + 2 for t in titles)  # a title line and a quote line each
    bodies = _fit([body for _, body in quotes], max(0, limit - fixed), photo)
    blocks = list(head)
    for title, body in zip(titles, bodies, strict=True):
        blocks.append(("b", title, ""))
        if body:
            blocks.append(("q", body, ""))
    blocks += foot
    text = "\n".join(_html(block) for block in blocks)
    length = sum(utf16_len(t) for _, t, _ in blocks) + max(0, len(blocks) - 1)
    return Rendered(text, keyboard(data), length)


def _html(block: Block) -> str:
    kind, text, href = block
    body = html.escape(text, quote=True)
    if kind == "b":
        return f"<b>{body}</b>"
    if kind == "q":
        return f"<blockquote>{body}</blockquote>"
    if kind == "a":
        return f'<a href="{html.escape(href, quote=True)}">{body}</a>'
    return body


def _header(data: PreviewInput, photo: bool) -> list[Block]:
    a = data.article
    names = [T.CATEGORY_NAMES.get(key, key) for key in a.categories] or [T.NO_CATEGORY]
    blocks: list[Block] = [
        ("b", T.HEADER_URGENT if data.urgent else T.HEADER, ""),
        ("b", clip(a.title, TITLE_MAX), ""),
        ("p", T.AGENCY.format(agency=clip(a.agency or a.source_id, 200)), ""),
        ("p", T.CATEGORY.format(names=", ".join(names)), ""),
        # The article's own link: the canonical form is for comparing (it may differ in
        # scheme or query) and must never be what staff click.
        ("a", T.LINK.format(url=clip(a.url, 500)), a.url),
    ]
    if a.image_url and not photo:
        blocks.append(("a", T.IMAGE_LINK, a.image_url))
    flags: list[str] = []
    if a.held:
        flags.append(
            T.FLAG_HELD.format(marker=a.secrecy_marker)
            if a.secrecy_marker
            else T.FLAG_HELD_NO_MARKER
        )
    if a.duplicate_of is not None:
        flags.append(T.FLAG_DUPLICATE_OF.format(id=a.duplicate_of))
    if data.also_at:
        flags.append(T.FLAG_ALSO_AT.format(agencies=clip(", ".join(data.also_at), 300)))
    if data.version > 1:
        flags.append(T.FLAG_CHANGED.format(version=data.version))
    if Flag.TCVN3 in a.flags:
        flags.append(T.FLAG_TCVN3)
    if Flag.NO_DATE in a.flags:
        flags.append(T.FLAG_NO_DATE)
    return blocks + [("p", flag, "") for flag in flags]


def _label(data: PreviewInput, channel: str) -> str:
    return T.KIND_NAMES.get(data.kinds.get(channel, ""), channel)


def _status(post: PostRecord) -> str:
    text = T.STATUS[post.status]
    if post.status == S.SCHEDULED and post.scheduled_for is not None:
        text = text.format(when=local_time(post.scheduled_for))
    return text + (T.EDITED_MARK if post.edited else "")


def _channel_quotes(data: PreviewInput) -> list[tuple[str, str]]:
    out = []
    for post in data.posts:
        title = T.CHANNEL_TITLE.format(
            label=_label(data, post.channel), name=post.channel, status=_status(post)
        )
        out.append((title, post.preview_text.strip()))
    return out


def _fit(bodies: list[str], budget: int, photo: bool) -> list[str]:
    """Share `budget` among the channel texts: short ones whole, long ones summarised."""
    cap = CHANNEL_QUOTE_MAX
    sizes = [utf16_len(b) for b in bodies]
    remaining, left = budget, len(bodies)
    shares = {}
    for index in sorted(range(len(bodies)), key=lambda i: sizes[i]):
        share = min(cap, remaining // max(1, left))
        shares[index] = share
        remaining -= min(sizes[index], share)
        left -= 1
    out = []
    for index, body in enumerate(bodies):
        share = shares[index]
        if sizes[index] <= share:
            out.append(body)
            continue
        rest = sizes[index] - share
        note = T.SHORTENED_PHOTO if photo else T.SHORTENED.format(rest=rest)
        out.append(clip(body, share, note) if share > utf16_len(note) + 10 else "")
    return out


def _footer(data: PreviewInput, photo: bool = False) -> list[Block]:
    blocks: list[Block] = []
    seen: set[str] = set()
    for post in data.posts:
        who, when = actor_name(post.decided_by), post.decided_at
        stamp = reason = None
        if when is not None and post.status in (*DECIDED, S.SCHEDULED):
            if post.scheduled_for is not None:
                stamp = T.STAMP_SCHEDULED.format(
                    who=who, when=local_time(when), at=local_time(post.scheduled_for)
                )
            else:
                stamp = T.STAMP_APPROVED.format(who=who, when=local_time(when))
        elif when is not None and post.status == S.REJECTED:
            stamp = T.STAMP_REJECTED.format(who=who, when=local_time(when))
            reason = post.reason
        elif when is not None and post.status == S.EXPIRED:
            stamp = T.STAMP_EXPIRED.format(when=local_time(when))
        for line in (stamp, T.STAMP_REASON.format(reason=clip(reason, 300)) if reason else None):
            if line and line not in seen:
                seen.add(line)
                blocks.append(("p", line, ""))
    for post in data.posts:
        label = _label(data, post.channel)
        if post.status == S.PUBLISHED and post.permalink:
            text = T.LIVE_LINK.format(label=label, url=clip(post.permalink, 300))
            blocks.append(("a", text, post.permalink))
        elif post.status == S.PUBLISHED:
            blocks.append(
                ("p", T.LIVE_NO_LINK.format(label=label, external_id=post.external_id), "")
            )
        elif post.status in (S.FAILED, S.NEEDS_HUMAN):
            # Editors read this: the plain sentence; the technical text is in the log and
            # in the admin chat's alert (approval/plain.py).
            error = plain.post_error(post.error_class)
            blocks.append(("p", T.FAILURE.format(label=label, error=error), ""))
        elif post.status in (S.REMOVING, S.REMOVED):
            reason = clip(post.reason or "", 300)
            blocks.append(("p", T.REMOVED_LINE.format(label=label, reason=reason), ""))
    for fix in data.corrections:
        head = T.CORRECT_BLOCK.format(label=_label(data, fix.channel), who=clip(fix.who, 100))
        blocks.append(("b", head, ""))
        blocks.append(("q", clip(fix.text, CORRECTION_PHOTO_MAX if photo else CORRECTION_MAX), ""))
    return blocks


# -- buttons -----------------------------------------------------------------------------------


def keyboard(data: PreviewInput) -> Keyboard:
    """Buttons while the article waits; none once it is decided. Data: buttons.data(), short
    ASCII with DB ids and the revision of the texts this very preview shows."""
    aid, rev = data.article.id, revision(data.posts)
    assert aid is not None  # previews are built from stored articles only
    if not is_open(data.posts, data.closed):
        return _published_keyboard(data)
    open_posts = [p for p in data.posts if p.status in OPEN]
    if data.menu == "edit" and open_posts:
        edits = [((T.BTN_EDIT_CHANNEL.format(label=_label(data, p.channel)), button("ed", p.id, rev)),)
                 for p in open_posts]  # fmt: skip
        return (*edits, ((T.BTN_BACK, button("bk", aid, rev)),))
    if data.menu == "schedule" and open_posts:
        return (
            (
                (T.BTN_IN_1H, button("sp", aid, rev, "1h")),
                (T.BTN_IN_3H, button("sp", aid, rev, "3h")),
            ),
            (
                (T.BTN_TOMORROW_7, button("sp", aid, rev, "7am")),
                (T.BTN_ASK_TIME, button("sp", aid, rev, "ask")),
            ),
            ((T.BTN_BACK, button("bk", aid, rev)),),
        )
    if data.menu == "reject":
        return (
            ((T.BTN_REJECT_NOW, button("rn", aid, rev)),),
            ((T.BTN_REJECT_REASON, button("rr", aid, rev)),),
            ((T.BTN_BACK, button("bk", aid, rev)),),
        )
    toggles = tuple(
        (
            (T.BTN_OFF if p.status == S.SKIPPED else T.BTN_ON).format(
                label=_label(data, p.channel)
            ),
            button("tg", p.id, rev),
        )
        for p in data.posts
        if p.status in OPEN or p.status == S.SKIPPED
    )
    edit = button("ed", open_posts[0].id, rev) if len(open_posts) == 1 else button("em", aid, rev)
    rows: list[tuple[tuple[str, str], ...]] = [((T.BTN_APPROVE, button("ap", aid, rev)),)]
    if toggles:
        rows.append(toggles)
    rows.append(
        ((T.BTN_EDIT, edit), (T.BTN_SCHEDULE, button("sc", aid, rev)),
         (T.BTN_REJECT, button("rj", aid, rev)))
    )  # fmt: skip
    return tuple(rows)


def _published_keyboard(data: PreviewInput) -> Keyboard:
    """A decided article with live posts: take down (admins) and correct (approvers)."""
    aid, rev = data.article.id or 0, revision(data.posts)
    live = [p for p in data.posts if p.status == S.PUBLISHED]
    if not live:
        return ()
    if data.menu == "correct":  # one button per live post
        choices = [((T.BTN_CORRECT_CHANNEL.format(label=_label(data, p.channel)),
                     button("cc", p.id, rev)),) for p in live]  # fmt: skip
        return (*choices, ((T.BTN_BACK, button("cn", aid, rev)),))
    rows: list[tuple[tuple[str, str], ...]] = []
    many = len(data.corrections) > 1
    for fix in data.corrections:  # approve or cancel exactly the texts shown
        label = _label(data, fix.channel)
        yes = T.BTN_CORRECT_APPROVE_CHANNEL.format(label=label) if many else T.BTN_CORRECT_APPROVE
        no = T.BTN_CORRECT_CANCEL_CHANNEL.format(label=label) if many else T.BTN_CORRECT_CANCEL
        rows.append(((yes, button("ca", fix.post_id, fix.revision)),
                     (no, button("cx", fix.post_id, fix.revision))))  # fmt: skip
    rows.append(((T.BTN_TAKEDOWN, button("gb", aid, rev)), (T.BTN_CORRECT, button("cb", aid, rev))))
    return tuple(rows)
