"""The Zalo preview, pure: article + stored posts → the messages to send, each ≤ 2,000 chars.

Zalo messages are plain text and cannot be edited afterwards, so a preview is a sequence of
messages sent once: a photo with the first part as caption when the article has an image, then
text parts. What each channel will publish is each post's stored `preview_text`, the same text
the Telegram preview and the publisher use, so what is approved is what is sent.
Splitting prefers paragraph breaks, then line breaks, then spaces, and never cuts inside a word
or between a letter and its combining marks.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from syndicator.approval import texts as TG
from syndicator.approval.zalo_bot import texts as T
from syndicator.approval.zalo_bot.naming import revision_of
from syndicator.storage import PostRecord
from syndicator.types import Article, Flag, PostStatus

TEXT_MAX = 2000  # sendMessage text and sendPhoto caption (issue 13; openclaw docs)
PART_RESERVE = 60  # room for the "(tiếp theo …)" line on follow-up parts
OPEN = (PostStatus.PENDING, PostStatus.HELD)


def split_text(text: str, limit: int = TEXT_MAX) -> list[str]:
    """Pieces of at most `limit` characters, cut at the widest boundary that fits."""
    text = unicodedata.normalize("NFC", text).strip()
    pieces: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = -1
        for sep in ("\n\n", "\n", " "):
            cut = window.rfind(sep, 0, limit)
            if cut > limit // 3:
                break
        if cut <= 0:  # one word longer than a message (a long URL): cut between graphemes
            cut = limit
            while cut > 1 and unicodedata.combining(text[cut]):
                cut -= 1
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def preview_text(
    article: Article, posts: list[PostRecord], kinds: Mapping[str, str], *, urgent: bool = False,
    again: bool = False,
) -> str:  # fmt: skip
    """The whole preview as one text (split afterwards)."""
    n = article.id
    header = T.HEADER_AGAIN if again else T.HEADER_URGENT if urgent else T.HEADER
    names = [TG.CATEGORY_NAMES.get(key, key) for key in article.categories] or [TG.NO_CATEGORY]
    lines = [
        header.format(number=n),
        article.title,
        TG.AGENCY.format(agency=article.agency or article.source_id),
        TG.CATEGORY.format(names=", ".join(names)),
        TG.LINK.format(url=article.canonical_url),
    ]
    lines += flags(article)
    blocks = ["\n".join(lines)]
    for post in sorted(posts, key=lambda p: p.id):
        if post.status not in OPEN:
            continue
        label = TG.KIND_NAMES.get(kinds.get(post.channel, ""), post.channel)
        blocks.append(T.CHANNEL.format(label=label) + "\n" + post.preview_text.strip())
    blocks.append(T.HOW_TO.format(n=n) + "\n" + T.REVISION.format(revision=revision_of(posts)))
    return "\n\n".join(blocks)


def flags(article: Article) -> list[str]:
    """Held/secrecy marker, duplicate, changed, encoding and date warnings."""
    out: list[str] = []
    if article.held:
        out.append(
            TG.FLAG_HELD.format(marker=article.secrecy_marker)
            if article.secrecy_marker
            else TG.FLAG_HELD_NO_MARKER
        )
    if article.duplicate_of is not None:
        out.append(TG.FLAG_DUPLICATE_OF.format(id=article.duplicate_of))
    if Flag.TCVN3 in article.flags:
        out.append(TG.FLAG_TCVN3)
    if Flag.NO_DATE in article.flags:
        out.append(TG.FLAG_NO_DATE)
    return out


def parts(
    article: Article, posts: list[PostRecord], kinds: Mapping[str, str], *, urgent: bool = False,
    again: bool = False,
) -> list[dict[str, Any]]:  # fmt: skip
    """The messages of one preview: {"photo": url, "caption": text} first when there is an
    image, then {"text": ...}; follow-up parts say which article they continue."""
    body = preview_text(article, posts, kinds, urgent=urgent, again=again)
    pieces = split_text(body, TEXT_MAX - PART_RESERVE)
    total = len(pieces)
    out: list[dict[str, Any]] = []
    for index, piece in enumerate(pieces, start=1):
        if index > 1:
            piece = T.PART.format(number=article.id, part=index, total=total) + "\n" + piece
        out.append({"text": piece})
    if article.image_url and out:
        out[0] = {"photo": article.image_url, "caption": out[0]["text"]}
    return out
