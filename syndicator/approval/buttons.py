"""Callback data of the preview buttons, pure: build it, parse it, and the article revision.

Format (short ASCII, at most 64 bytes as the Bot API demands, api-notes 3.6):
  <action>:<id>[:<preset>]:<revision>
  ap:<article>  approve every open post      tg:<post>     channel on/off
  em:<article>  edit menu                    ed:<post>     edit one post's text
  sc:<article>  schedule menu                sp:<article>:<1h|3h|7am|ask>
  rj:<article>  reject menu                  rn:<article>  reject now
  rr:<article>  reject with a reason         bk:<article>  back to the main buttons
  gb:<article>  take the published posts down (admins; asks for the reason first)
  cb:<article>  published preview: the menu of live posts to correct (approvers)
  cn:<article>  published preview: back from that menu
  cc:<post>     ask the new text of one live post (forced reply)
  ca:<post>     approve the pending correction (revision: of the proposed payload)
  cx:<post>     cancel the pending correction (revision: of the proposed payload)
  wu:<article>  watch alert: re-render the live posts from the changed article
  wa:<article>  watch alert: approve the re-rendered posts (then they are corrected live)
  wr:<article>  watch alert: take the live posts down (as gb)
  wx:<article>  watch alert: dismiss
The watch buttons' revision is of the alert (watch_buttons.py), not of the preview.
`revision` is eight hex digits derived from the payload hashes of every post of the article
(`revision()`), i.e. from exactly the texts the preview showed. A tap whose revision differs
from the stored posts' is refused as stale, so nobody approves text they never saw.

Buttons sent before this format (no revision) are still parsed, with `revision=None`. We
decided: menu buttons (em, sc, rj, bk) keep working, since they change nothing; every button
that decides (ap, tg, ed, sp, rn, rr) is refused cleanly and the preview is refreshed with
buttons in the new format. An old button carries no proof of what its reader saw, and the
refreshed preview costs the editor one more tap, never a wrong decision.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from syndicator.storage.posts import PostRecord

DATA_MAX_BYTES = 64
REVISION_LEN = 8
ACTIONS = (
    "ap", "tg", "em", "ed", "sc", "sp", "rj", "rn", "rr", "bk", "gb", "wu", "wa", "wr", "wx",
    "cb", "cn", "cc", "ca", "cx",
)  # fmt: skip
MENUS = ("em", "sc", "rj", "bk", "cn")  # navigation only: no decision, no revision needed
POST_ACTIONS = ("tg", "ed", "cc", "ca", "cx")  # the id is a post id; for the others an article id
_DATA = re.compile(
    r"^(?P<action>ap|tg|em|ed|sc|sp|rj|rn|rr|bk|gb|wu|wa|wr|wx|cb|cn|cc|ca|cx):(?P<id>\d{1,18})"
    r"(?::(?P<extra>1h|3h|7am|ask))?(?::(?P<revision>[0-9a-f]{8}))?$"
)


@dataclass(frozen=True, slots=True)
class Button:
    action: str
    number: int  # a post id for tg/ed, an article id otherwise
    extra: str | None = None  # the preset of sp
    revision: str | None = None  # None: a button from before revisions existed


def revision(posts: Iterable[PostRecord]) -> str:
    """Eight hex digits that change whenever any post's payload of the article changes."""
    joined = "|".join(f"{p.id}={p.payload_hash}" for p in sorted(posts, key=lambda p: p.id))
    return hashlib.sha256(joined.encode("ascii")).hexdigest()[:REVISION_LEN]


def data(action: str, number: int, rev: str, extra: str | None = None) -> str:
    """The callback data of one button; raises ValueError if it would break the 64-byte rule."""
    text = f"{action}:{number}" + (f":{extra}" if extra else "") + f":{rev}"
    if action not in ACTIONS or len(text.encode("ascii")) > DATA_MAX_BYTES:
        raise ValueError(f"bad callback data {text!r}")
    return text


def parse(raw: str | None) -> Button | None:
    """The button a callback carries, or None when it is not one of ours."""
    match = _DATA.match(raw or "")
    if match is None:
        return None
    action, extra = match["action"], match["extra"]
    if (action == "sp") != (extra is not None):
        return None
    return Button(action, int(match["id"]), extra, match["revision"])


def needs_revision(button: Button) -> bool:
    return button.action not in MENUS
