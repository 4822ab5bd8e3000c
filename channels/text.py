"""Text helpers for post budgets: NFC, grapheme-safe and word-aware truncation, hashtags.

Lengths are counted in code points of the NFC form, which is what the services validate
(Zalo's title <= 150 and friends). Vietnamese letters are all precomposed in NFC, but portals
sometimes send decomposed text or letters no precomposed form covers, so a cut is only ever
made between grapheme clusters: a base character plus the combining marks, joiners and
modifiers that follow it.
"""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"
# Trailing characters that look wrong right before an ellipsis.
_TRAILING_PUNCT = " \t\n,;:.-–—(/"
_ZWJ = "\u200d"
_SKIN_TONES = range(0x1F3FB, 0x1F400)


def nfc(text: str) -> str:
    """The composed form every comparison and length in this package uses."""
    return unicodedata.normalize("NFC", text)


def one_line(text: str) -> str:
    """NFC, with every run of whitespace (newlines included) turned into one space."""
    return " ".join(nfc(text).split())


def _extends(char: str) -> bool:
    """Whether `char` belongs to the grapheme before it (marks, variation selectors, tones)."""
    return unicodedata.category(char) in ("Mn", "Mc", "Me") or ord(char) in _SKIN_TONES


def graphemes(text: str) -> list[str]:
    """Split into user-perceived characters (an approximation of UAX #29, enough for text)."""
    clusters: list[str] = []
    joined = False
    for char in text:
        if clusters and (joined or _extends(char) or char == _ZWJ):
            clusters[-1] += char
        else:
            clusters.append(char)
        joined = char == _ZWJ
    return clusters


def truncate(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str:
    """At most `limit` code points of NFC text; cut at the last space before the limit and
    end with `ellipsis` (which counts toward the limit). Never cuts inside a grapheme.

    A single word longer than the budget is cut between graphemes, since no space exists.
    """
    text = nfc(text)
    if len(text) <= limit:
        return text
    budget = limit - len(ellipsis)
    if budget <= 0:
        return ellipsis[: max(limit, 0)]
    clusters = graphemes(text)
    head: list[str] = []
    used = 0
    for cluster in clusters:
        if used + len(cluster) > budget:
            break
        head.append(cluster)
        used += len(cluster)
    hard = "".join(head)
    rest = text[len(hard) :]
    if rest[:1].isspace():
        cut = hard  # the limit fell exactly on a word boundary
    else:
        match = re.search(r"\s\S*$", hard)
        cut = hard[: match.start()] if match else hard
    cut = cut.rstrip(_TRAILING_PUNCT) or hard.rstrip()
    return cut + ellipsis


def strip_diacritics(text: str) -> str:
    """ASCII-ish Vietnamese: "Điều hành" -> "Dieu hanh" (đ has no decomposition, so map it)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def hashtag(words: str) -> str:
    """A hashtag from a phrase: diacritics removed, words capitalised and joined.

    "Thông tin chỉ đạo, điều hành" -> "#ThongTinChiDaoDieuHanh". Hashtags with diacritics
    work on Facebook but are typed inconsistently (NFC/NFD, telex), so plain letters are used.
    """
    parts = re.findall(r"[A-Za-z0-9]+", strip_diacritics(words).replace("_", " "))
    return "#" + "".join(part[:1].upper() + part[1:] for part in parts)
