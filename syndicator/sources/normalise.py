"""From a raw `Entry` to an `Article`: clean text, safe HTML, absolute URLs, UTC time, identity.

Everything here is pure. Text is NFC from the first step, because portals mix composed and
decomposed forms and every later comparison, hash and truncation assumes one form.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

import nh3

from syndicator.sources.classify import find_secrecy_marker
from syndicator.sources.dates import parse_date
from syndicator.sources.identity import canonical_url, content_hash, fingerprint, fix_amp
from syndicator.sources.tcvn3 import fix_tcvn3, tcvn3_to_unicode
from syndicator.types import Article, Entry, Flag

ALLOWED_TAGS = {
    "p", "br", "a", "img", "strong", "b", "em", "i", "ul", "ol", "li", "h2", "h3", "h4",
    "blockquote", "table", "thead", "tbody", "tr", "th", "td", "caption",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}, "td": {"colspan", "rowspan"},
                      "th": {"colspan", "rowspan"}}  # fmt: skip
URL_SCHEMES = {"http", "https", "mailto", "tel"}
# Tags whose end separates words; the others (b, span, a...) may sit inside a word.
_BLOCK_TAGS = {
    "p", "br", "div", "li", "ul", "ol", "tr", "td", "th", "table", "h1", "h2", "h3", "h4", "h5",
    "h6", "blockquote", "section", "article", "header", "footer", "hr", "img", "figure",
    "figcaption", "dd", "dt", "pre",
}  # fmt: skip
_SKIP_CONTENT_TAGS = {"script", "style", "noscript", "template"}
SUMMARY_FROM_CONTENT_CHARS = 300
TITLE_FROM_SUMMARY_CHARS = 120
# Field caps: far above any real article (portal titles run to ~250 characters, bodies to a
# few tens of thousands), low enough that one hostile item cannot fill the database or every
# preview (issue 10: a 30,000,000-character title). A cut article carries Flag.TRUNCATED.
TITLE_MAX_CHARS = 1_000
SUMMARY_MAX_CHARS = 5_000
BODY_MAX_CHARS = 300_000  # of the raw HTML, cut before any parsing (it bounds the CPU too)
# Control characters other than tab and newline (C0, DEL, C1), lone surrogates (from JSON
# "\ud800"; PostgreSQL refuses them, as it refuses NUL) and the bidirectional embedding,
# override and isolate controls (U+202A-E, U+2066-9), which can make a title display as
# something else in a terminal or a chat (the "Trojan Source" trick, CVE-2021-42574).
_UNSAFE = dict.fromkeys(
    [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), *range(0xD800, 0xE000),
     *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)  # fmt: skip
# The same characters as a class: finding none (nearly always) costs far less than translate()
# with a dict of ~2,000 keys, character by character.
_UNSAFE_FOUND = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")

# An entity whose "&" was escaped once more than it should have been: "&amp;#7871;".
_DOUBLE_ESCAPED = re.compile(r"&amp;(#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_LEFTOVER_ENTITY = re.compile(r"&(#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# Never undo the escaping of markup characters in HTML: that would create tags.
_MARKUP_ENTITIES = {"amp", "lt", "gt", "quot", "apos", "#38", "#60", "#62", "#x26", "#x3c", "#x3e"}


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment and the first image source."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.first_image: str | None = None
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_CONTENT_TAGS:
            self._skipping += 1
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")
        if tag == "img" and self.first_image is None:
            src = dict(attrs).get("src")
            if src and src.strip():
                self.first_image = src.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_CONTENT_TAGS and self._skipping:
            self._skipping -= 1
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


_SMALL_FRAGMENT = 4_096  # characters: a summary, a title (a feed's worth is a few hundred KB)


def _extract(fragment: str) -> tuple[str, str | None]:
    """(the text, the first image's src) of a fragment. One summary is read for its text, its
    body text and its image here, and for its image by rss.py before: HTMLParser is a large
    share of normalise's time, so answers are kept — for the last 128 small fragments (a
    document's worth, as rss.py reads them all first) and the last 4 of any size."""
    if len(fragment) <= _SMALL_FRAGMENT:
        return _extract_small(fragment)
    return _extract_any(fragment)


@functools.lru_cache(maxsize=128)
def _extract_small(fragment: str) -> tuple[str, str | None]:
    return _parse_fragment(fragment)


@functools.lru_cache(maxsize=4)  # few: a body can be 300,000 characters
def _extract_any(fragment: str) -> tuple[str, str | None]:
    return _parse_fragment(fragment)


def _parse_fragment(fragment: str) -> tuple[str, str | None]:
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    return "".join(parser.parts), parser.first_image


def decode_leftover_entities(text: str) -> str:
    """Decode entities still present in plain text after one decoding (double escaping)."""
    for _ in range(2):
        decoded = _LEFTOVER_ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
        if decoded == text:
            break
        text = decoded
    return text


def scrub(text: str | None) -> str | None:
    """`text` without the unsafe characters above (None stays None)."""
    if not text or _UNSAFE_FOUND.search(text) is None:
        return text
    return text.translate(_UNSAFE)


def _capped(text: str | None, limit: int, flags: set[str]) -> str | None:
    """The raw field, cut at `limit` characters (flagged) before any work is spent on it."""
    if text is not None and len(text) > limit:
        flags.add(Flag.TRUNCATED)
        return text[:limit]
    return text


def clean_text(fragment: str | None) -> str:
    """Plain text of an HTML (or plain) fragment: tags dropped, entities decoded, NFC, one
    space between words."""
    if not fragment:
        return ""
    text = decode_leftover_entities(_extract(fragment)[0])
    return " ".join(unicodedata.normalize("NFC", text).split())


def first_image(fragment: str | None) -> str | None:
    """The src of the first <img> in an HTML fragment."""
    return _extract(fragment)[1] if fragment else None


def absolute_url(url: str | None, base: str) -> str | None:
    """An absolute http(s) URL, or None. Tabs and newlines are removed as browsers do."""
    if not url:
        return None
    url = fix_amp(re.sub(r"[\t\r\n]", "", url).strip())
    url = quote(unicodedata.normalize("NFC", url), safe="/%:@!$&'()*+,;=-._~?#[]")
    try:
        resolved = urljoin(base, url) if base else url
        parts = urlsplit(resolved)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return resolved


def sanitise_html(fragment: str | None, base: str) -> str:
    """Safe HTML for rendering: allowed tags only, absolute links, NFC text."""
    if not fragment:
        return ""

    def undo_double_escape(match: re.Match[str]) -> str:
        name = match.group(1)
        return match.group(0) if name.lower() in _MARKUP_ENTITIES else f"&{name};"

    def make_absolute(tag: str, attribute: str, value: str) -> str | None:
        if attribute in ("href", "src"):
            if value.strip().lower().startswith(("mailto:", "tel:")):
                return value
            return absolute_url(value, base)  # None drops the attribute (javascript: etc.)
        return value

    fragment = _DOUBLE_ESCAPED.sub(undo_double_escape, unicodedata.normalize("NFC", fragment))
    # "</br>" (VnExpress and many CMSs) means a line break; the HTML parser would drop it.
    fragment = re.sub(r"</br\s*>", "<br>", fragment, flags=re.IGNORECASE)
    cleaned = nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=make_absolute,
        url_schemes=URL_SCHEMES,
        clean_content_tags=_SKIP_CONTENT_TAGS,
    )
    return unicodedata.normalize("NFC", cleaned).strip()


def truncate_words(text: str, limit: int) -> str:
    """At most `limit` characters, cut between words (never inside a syllable), with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-–") + "…"


def _stable_guid(entry: Entry, url: str, title: str) -> str:
    guid = " ".join(unicodedata.normalize("NFC", entry.guid or "").split())
    if guid:
        return fix_amp(guid) if guid.lower().startswith(("http://", "https://")) else guid
    if url:
        return url
    return "sha256:" + hashlib.sha256(title.encode()).hexdigest()


def normalise(
    entry: Entry,
    *,
    source_id: str,
    agency: str,
    feed_url: str,
    now: datetime,
    markers: Sequence[str] = (),
) -> Article | None:
    """Turn a raw entry into an Article; None when it has no usable URL or no text at all.

    `markers` are the secrecy markers (ClassifierRules.secrecy_markers): checking them here
    means an article is held even if classification is skipped or fails.
    """
    flags: set[str] = set()
    # Caps first (4x the text cap for markup), then the unsafe characters: both bound the work
    # and keep NUL, surrogates and bidi overrides out of storage, previews and posts.
    entry = Entry(
        guid=scrub(_capped(entry.guid, 2_000, flags)),
        url=scrub(_capped(entry.url, 4_000, flags)),
        title=scrub(_capped(entry.title, 4 * TITLE_MAX_CHARS, flags)),
        summary=scrub(_capped(entry.summary, 4 * SUMMARY_MAX_CHARS, flags)),
        content=scrub(_capped(entry.content, BODY_MAX_CHARS, flags)),
        image=scrub(_capped(entry.image, 4_000, flags)),
        published=scrub(entry.published) if isinstance(entry.published, str) else entry.published,
        categories=tuple(scrub(c[:200]) or "" for c in entry.categories[:50]),
        base_url=entry.base_url,
    )
    base = entry.base_url or feed_url
    url = absolute_url(entry.url, base)
    if url is None and entry.guid and entry.guid.strip().lower().startswith(("http:", "https:")):
        url = absolute_url(entry.guid, base)  # RSS guid isPermaLink="true" is a link too
    if url is None:
        return None  # every post must link back to the portal

    title, title_tcvn3 = fix_tcvn3(clean_text(entry.title))
    summary_text, summary_tcvn3 = fix_tcvn3(clean_text(entry.summary))
    body_html = entry.content or entry.summary
    content_text, content_tcvn3 = fix_tcvn3(clean_text(body_html))
    content_html = sanitise_html(body_html, base)
    if content_tcvn3:
        content_html = tcvn3_to_unicode(content_html)
    if title_tcvn3 or summary_tcvn3 or content_tcvn3:
        flags.add(Flag.TCVN3)
    if len(title) > TITLE_MAX_CHARS or len(summary_text) > SUMMARY_MAX_CHARS:
        flags.add(Flag.TRUNCATED)
        title = truncate_words(title, TITLE_MAX_CHARS)
        summary_text = truncate_words(summary_text, SUMMARY_MAX_CHARS)

    summary = summary_text or truncate_words(content_text, SUMMARY_FROM_CONTENT_CHARS)
    if not title:
        title = truncate_words(summary, TITLE_FROM_SUMMARY_CHARS)
    if not title:
        return None

    published_at = parse_date(entry.published, now)
    if published_at is None:
        flags.add(Flag.NO_DATE)

    image = (
        absolute_url(entry.image, base)
        or absolute_url(first_image(entry.content), base)
        or absolute_url(first_image(entry.summary), base)
    )
    marker = find_secrecy_marker(title, f"{summary}\n{content_text}", markers)
    if marker:
        flags.add(Flag.HOLD)

    categories = tuple(dict.fromkeys(c for c in (clean_text(x) for x in entry.categories) if c))
    return Article(
        source_id=source_id,
        guid=_stable_guid(entry, url, title),
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        summary=summary,
        content_html=content_html,
        content_text=content_text,
        image_url=image,
        published_at=published_at,
        agency=agency,
        source_categories=categories,
        flags=frozenset(flags),
        secrecy_marker=marker,
        content_hash=content_hash(title, summary, content_text),
        fingerprint=fingerprint(title, summary or content_text),
    )
