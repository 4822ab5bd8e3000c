"""Detect and repair TCVN3 (ABC, the ".VnTime" fonts) text pasted into a Unicode page.

Before Unicode, Vietnamese offices typed with TCVN3 fonts: the bytes are Latin-1 code points
that the font draws as Vietnamese letters. Pasted into a UTF-8 CMS, "nhân dân tỉnh" shows as
"nh©n d©n tØnh". Nothing in the XML flags it, so we guess from the text itself.

The heuristic, in order:
1. a word must mix ASCII letters with a Latin-1 character that never occurs in Vietnamese
   Unicode text ("©", "Ø", "¸"...). Plain English has no Latin-1 characters at all, and the
   Latin-1 letters that Vietnamese does use (à, é, ô...) are not counted as evidence;
2. after conversion, most of those words must be well-formed Vietnamese syllables (initial
   consonant + vowels + final consonant, one tone mark at most). This keeps German "Müller"
   or Spanish "España" from firing;
3. suspicious words must outnumber words that already hold Vietnamese Unicode letters.
"""

from __future__ import annotations

import re
import unicodedata

# Character -> TCVN3 bytes (hex). Origin: /work/shared/fixtures/vn_synth/
# tcvn3_map_from_vietnameseConverter_v1.json, extracted from jniedballa/vietnameseConverter
# (GPL-2+) R/loadEncodingTableVN.R v1, itself adapted from vietunicode.sourceforge.net/charset.
# A charset mapping table is factual data (it describes a published national standard).
# Upper-case toned letters are two bytes: the upper-case base letter followed by the lower-case
# toned code, because TCVN3 has no room for them in one byte.
_UNICODE_TO_TCVN3 = {
    "À": "41b5", "Á": "41b8", "Â": "a2", "Ã": "41b7", "È": "45cc", "É": "45d0", "Ê": "a3",
    "Ì": "49d7", "Í": "49dd", "Ò": "4fdf", "Ó": "4fe3", "Ô": "a4", "Õ": "4fe2", "Ù": "55ef",
    "Ú": "55f3", "Ý": "59fd", "à": "b5", "á": "b8", "â": "a9", "ã": "b7", "è": "cc", "é": "d0",
    "ê": "aa", "ì": "d7", "í": "dd", "ò": "df", "ó": "e3", "ô": "ab", "õ": "e2", "ù": "ef",
    "ú": "f3", "ý": "fd", "Ă": "a1", "ă": "a8", "Đ": "a7", "đ": "ae", "Ĩ": "49dc", "ĩ": "dc",
    "Ũ": "55f2", "ũ": "f2", "Ơ": "a5", "ơ": "ac", "Ư": "a6", "ư": "ad", "Ạ": "41b9", "ạ": "b9",
    "Ả": "41b6", "ả": "b6", "Ấ": "a2ca", "ấ": "ca", "Ầ": "a2c7", "ầ": "c7", "Ẩ": "a2c8",
    "ẩ": "c8", "Ẫ": "a2c9", "ẫ": "c9", "Ậ": "a2cb", "ậ": "cb", "Ắ": "a1be", "ắ": "be",
    "Ằ": "a1bb", "ằ": "bb", "Ẳ": "a1bc", "ẳ": "bc", "Ẵ": "a1bd", "ẵ": "bd", "Ặ": "a1c6",
    "ặ": "c6", "Ẹ": "45d1", "ẹ": "d1", "Ẻ": "45ce", "ẻ": "ce", "Ẽ": "45cf", "ẽ": "cf",
    "Ế": "a3d5", "ế": "d5", "Ề": "a3d2", "ề": "d2", "Ể": "a3d3", "ể": "d3", "Ễ": "a3d4",
    "ễ": "d4", "Ệ": "a3d6", "ệ": "d6", "Ỉ": "49d8", "ỉ": "d8", "Ị": "49de", "ị": "de",
    "Ọ": "4fe4", "ọ": "e4", "Ỏ": "4fe1", "ỏ": "e1", "Ố": "a4e8", "ố": "e8", "Ồ": "a4e5",
    "ồ": "e5", "Ổ": "a4e6", "ổ": "e6", "Ỗ": "a4e7", "ỗ": "e7", "Ộ": "a4e9", "ộ": "e9",
    "Ớ": "a5ed", "ớ": "ed", "Ờ": "a5ea", "ờ": "ea", "Ở": "a5eb", "ở": "eb", "Ỡ": "a5ec",
    "ỡ": "ec", "Ợ": "a5ee", "ợ": "ee", "Ụ": "55f4", "ụ": "f4", "Ủ": "55f1", "ủ": "f1",
    "Ứ": "a6f8", "ứ": "f8", "Ừ": "a6f5", "ừ": "f5", "Ử": "a6f6", "ử": "f6", "Ữ": "a6f7",
    "ữ": "f7", "Ự": "a6f9", "ự": "f9", "Ỳ": "59fa", "ỳ": "fa", "Ỵ": "59fe", "ỵ": "fe",
    "Ỷ": "59fb", "ỷ": "fb", "Ỹ": "59fc", "ỹ": "fc",
}  # fmt: skip


def _reverse_tables() -> tuple[dict[str, str], dict[str, str]]:
    """Mojibake (the bytes read as Latin-1) -> Unicode, split by length for longest-match."""
    one: dict[str, str] = {}
    two: dict[str, str] = {}
    for char, hex_bytes in _UNICODE_TO_TCVN3.items():
        mojibake = bytes.fromhex(hex_bytes).decode("latin-1")
        (one if len(mojibake) == 1 else two)[mojibake] = char
    return one, two


_ONE, _TWO = _reverse_tables()

# Latin-1 letters that Vietnamese Unicode text uses itself: their presence proves nothing.
_VIETNAMESE_LATIN1 = set("àáâãèéêìíòóôõùúýÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝ")
_SUSPECT = frozenset(_ONE) - _VIETNAMESE_LATIN1

_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
_SYLLABLE = re.compile(
    r"(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?"
    r"[aăâeêioôơuưy]{1,3}"
    r"(ng|nh|ch|[cmnpt])?"
)
_SUSPECT_RE = re.compile("[" + re.escape("".join(sorted(_SUSPECT))) + "]")
_EDGE_PUNCT = re.compile(r"^[^\w]+|[^\w]+$")


def _has_vietnamese_unicode(word: str) -> bool:
    """True when the word holds a letter only Unicode Vietnamese would produce (ă, đ, ơ, ế...)."""
    return any(
        "\u0100" <= c <= "\u024f" or "\u1ea0" <= c <= "\u1ef9" or "\u0300" <= c <= "\u036f"
        for c in word
    )


def _is_suspicious(word: str) -> bool:
    """A word mixing ASCII letters with a Latin-1 character Vietnamese never uses."""
    return any(c in _SUSPECT for c in word) and any(c.isascii() and c.isalpha() for c in word)


def is_vietnamese_syllable(word: str) -> bool:
    """Whether the word is shaped like one Vietnamese syllable (at most one tone mark)."""
    word = _EDGE_PUNCT.sub("", word).lower()
    decomposed = unicodedata.normalize("NFD", word)
    if sum(c in _TONE_MARKS for c in decomposed) > 1:
        return False
    toneless = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONE_MARKS))
    return bool(word) and _SYLLABLE.fullmatch(toneless) is not None


def tcvn3_to_unicode(text: str) -> str:
    """Convert TCVN3 mojibake to Unicode (NFC). Only call it on text `looks_like_tcvn3` accepts:
    it also rewrites the Latin-1 letters that normal Vietnamese uses."""
    out: list[str] = []
    i = 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in _TWO:
            out.append(_TWO[pair])
            i += 2
            continue
        out.append(_ONE.get(text[i], text[i]))
        i += 1
    return unicodedata.normalize("NFC", "".join(out))


def looks_like_tcvn3(text: str) -> bool:
    """Guess whether the text is TCVN3 bytes shown as Latin-1 (see the module docstring)."""
    if _SUSPECT_RE.search(text) is None:  # fast path: almost every text has none of them
        return False
    words = text.split()
    suspicious = [w for w in words if _is_suspicious(w)]
    if not suspicious:
        return False
    unicode_words = sum(_has_vietnamese_unicode(w) for w in words)
    if len(suspicious) <= unicode_words:
        return False
    valid = sum(is_vietnamese_syllable(tcvn3_to_unicode(w)) for w in suspicious)
    if valid < 0.7 * len(suspicious):
        return False
    # One odd word in a long text is too little evidence; a short title may have only one.
    return valid >= 2 or len(words) <= 3


def fix_tcvn3(text: str) -> tuple[str, bool]:
    """Return (text converted when it looks like TCVN3, whether it was converted)."""
    if text and looks_like_tcvn3(text):
        return tcvn3_to_unicode(text), True
    return text, False
