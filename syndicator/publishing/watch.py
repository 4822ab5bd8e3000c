"""Watching published articles: the pure decisions (what to check, what is material, gone).

For `[watch] days` after its first post went live, an article is watched. Its text reaches us
two ways: while it stays in its feed the poller updates the stored article in place (and audits
`article.changed`), so a change shows as a new content hash at no HTTP cost; once it left the
feed it can only be seen at its URL, which the watcher then follows (404/410 = withdrawn).

Whether it is still in its feed is the poller's memory of the source's last stored document
(its members, in document order: poll_memory.py). `presence` tells four cases apart:
- in the feed: its URL is not fetched at all;
- pushed out: it left as newer items came in (none of the items that followed it in the
  document, the older ones, is left): its URL is followed every `[watch] check_every` after;
- vanished: it left while items older than it stayed, which a feed does not do by itself (a
  withdrawal or a move, most likely): its URL is checked at the watcher's next turn, then every
  `check_every`;
- unknown (the feed's members are not known: a JSON or unsplittable feed parsed with errors,
  a memory from before migration 0011): its URL is followed every `check_every`, as before.
Feeds list their newest items first (RSS and Atom practice); in a feed listed oldest first an
item pushed out looks vanished, which costs one early check, never a missed one.
These functions decide; the runner (watch_runner.py) fetches, stores and audits.

What counts as *material* (`material_change`): the normalised title changed, or more than
`threshold` (default 5 %) of the normalised text changed (difflib's ratio over words). Fixing
a typo or a stray space, re-encoding NFD as NFC, or re-wrapping lines is not material; a new
figure, date or name in the title is, and so is a rewritten paragraph.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DEFAULT_THRESHOLD = 0.05
SNIPPET_MAX = 300  # characters of a before/after sentence shown to staff
_SPACES = re.compile(r"\s+")
# Sentence ends: Vietnamese uses the same marks; an ellipsis or a line break also ends one.
_SENTENCE = re.compile(r"(?<=[.!?…;])\s+|\n+")
WITHDRAWN_STATUSES = frozenset({404, 410})
OLDER_KEPT = 5  # items after a watched article remembered, to tell pushed out from vanished


class Presence(StrEnum):
    """Where a watched article stands in its feed's last stored document."""

    IN_FEED = "in_feed"
    PUSHED_OUT = "pushed_out"  # left as newer items came in
    VANISHED = "vanished"  # left while older items stayed
    UNKNOWN = "unknown"  # the feed's members are not known


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the staff approved for publication, or what the portal says now."""

    title: str
    text: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class Change:
    """A material change: what changed, and the first difference to show."""

    title_changed: bool
    changed_share: float  # 0..1 of the normalised text's words that differ
    before: str  # the old title, or the first changed sentence of the old text
    after: str


def normalise(text: str) -> str:
    """NFC, case-folded, whitespace collapsed: the form in which changes are compared."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip().casefold()


def changed_share(old: str, new: str) -> float:
    """The share (0..1) of words that differ between two normalised texts."""
    a, b = normalise(old).split(), normalise(new).split()
    if not a and not b:
        return 0.0
    # autojunk off: a long article repeats common words, which must not count as "junk".
    return 1.0 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def material_change(
    old: Snapshot, new: Snapshot, threshold: float = DEFAULT_THRESHOLD
) -> Change | None:
    """None when nothing a reader would notice changed; else what changed and where."""
    if old.content_hash == new.content_hash:
        return None
    title_changed = normalise(old.title) != normalise(new.title)
    share = changed_share(old.text, new.text)
    if not title_changed and share <= threshold:
        return None
    if title_changed:
        before, after = old.title, new.title
    else:
        before, after = first_difference(old.text, new.text)
    return Change(title_changed, round(share, 4), _clip(before), _clip(after))


def sentences(text: str) -> list[str]:
    cleaned = unicodedata.normalize("NFC", text).strip()
    return [s.strip() for s in _SENTENCE.split(cleaned) if s.strip()]


def first_difference(old: str, new: str) -> tuple[str, str]:
    """The first sentence that differs, before and after ("" when one side has none)."""
    a, b = sentences(old), sentences(new)
    matcher = difflib.SequenceMatcher(None, [normalise(s) for s in a], [normalise(s) for s in b])
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            return (a[i1] if i1 < i2 else ""), (b[j1] if j1 < j2 else "")
    return "", ""


def _clip(text: str) -> str:
    if len(text) <= SNIPPET_MAX:
        return text
    cut = text[:SNIPPET_MAX].rsplit(" ", 1)[0]  # a word boundary keeps syllables whole
    return cut + " …"


def watched(published_at: datetime | None, now: datetime, days: timedelta) -> bool:
    """Is an article whose first post went live at `published_at` still watched?"""
    return published_at is not None and published_at <= now < published_at + days


def presence(guid: str, members: Sequence[str] | None, older: Sequence[str]) -> Presence:
    """Where `guid` stands in its feed, given the feed's members (guids in document order)
    and `older`: the items that followed it when it was last seen there (older_items)."""
    if members is None:
        return Presence.UNKNOWN
    if guid in members:
        return Presence.IN_FEED
    present = set(members)
    if any(g in present for g in older):
        return Presence.VANISHED
    return Presence.PUSHED_OUT


def older_items(guid: str, members: Sequence[str], keep: int = OLDER_KEPT) -> list[str]:
    """The items right after `guid` in its feed (the older ones; [] when it is last)."""
    try:
        at = list(members).index(guid)
    except ValueError:
        return []
    return list(members[at + 1 : at + 1 + keep])


def url_check_due(
    last_checked: datetime | None,
    now: datetime,
    every: timedelta,
    where: Presence = Presence.UNKNOWN,
    left_at: datetime | None = None,
) -> bool:
    """Is the article's URL due a fetch now?

    In its feed: never (the poller keeps its text current). Vanished: at once if it was not
    checked since it left (`left_at`), then every `every`. Pushed out: `every` after it left
    or after its last check. Unknown: every `every` from its last check (at once at first).
    """
    if where is Presence.IN_FEED:
        return False
    if where is Presence.VANISHED and (
        last_checked is None or (left_at is not None and last_checked < left_at)
    ):
        return True  # fmt: skip
    if where is Presence.PUSHED_OUT and left_at is not None:
        since = left_at if last_checked is None else max(last_checked, left_at)
        return now >= since + every
    return last_checked is None or now >= last_checked + every


def withdrawn(status: int | None, error: str | None) -> bool:
    """A definite withdrawal: the portal says the page is gone (404 Not Found, 410 Gone).

    Timeouts, refused connections and 5xx prove nothing (the portal may be down for an
    hour), so they are not withdrawals; the next check tries again.
    """
    return status in WITHDRAWN_STATUSES
