"""RSS / Atom documents (bytes + response headers) to raw entries, with feedparser.

Never raises: a feed is one of many, and a broken one must not abort the batch. What can be
recovered is returned with the error text. Portals produce broken XML often enough that two
repairs are worth trying when feedparser reports a broken document:
- leading junk before the XML (a browser's "This XML file does not appear to have any style
  information" banner saved with the feed);
- bare "&" in links and attributes (".aspx?a=1&b=2"), which makes the XML not well-formed.
A repair is kept only when it gives more entries, or as many and a clean parse.

Safety: entity declarations are checked on the decoded document before feedparser sees it
(xmlguard.py): only short literal entities survive; anything that could expand or read files
refuses the document.

A document that parses to no feed at all (an HTML page given as the feed URL) is an error that
says so and lists the feeds the page advertises, so the fix is one copy and paste.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin

import feedparser

from syndicator.sources.fastfeed import parse_fast
from syndicator.sources.htmlpage import not_a_feed
from syndicator.sources.normalise import first_image
from syndicator.sources.xmlguard import RefusedDocument, guard_entities
from syndicator.types import Entry, ParseResult

# feedparser sets bozo for these although the document parsed fine: a server that says
# text/html or a wrong charset is common and says nothing about the feed itself.
_BENIGN = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
_XML_START = re.compile(rb"<\?xml|<rss[\s>]|<feed[\s>]|<rdf:RDF[\s>]", re.IGNORECASE)
# "&" not starting an entity: "&name;", "&#123;" or "&#x1F;".
_BARE_AMP = re.compile(rb"&(?!(?:[A-Za-z][A-Za-z0-9]{0,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});)")
_BOM = b"\xef\xbb\xbf"


def parse_feed(
    body: bytes, headers: Mapping[str, str], url: str, *, fast: bool = True
) -> ParseResult:
    """Parse an RSS/Atom document; entries that could be recovered plus an error when broken.

    A plain RSS 2.0 or Atom 1.0 document goes through fastfeed.py (expat, same values);
    anything else, or `fast=False` (the differential tests), through feedparser.
    """
    try:
        return _parse_feed(body, headers, url, fast)
    except Exception as exc:  # a parser bug on one feed must not stop the others
        return ParseResult((), error=f"parser failed: {type(exc).__name__}: {exc}")


def _parse_feed(body: bytes, headers: Mapping[str, str], url: str, fast: bool) -> ParseResult:
    response_headers = {k.lower(): v for k, v in headers.items()}
    # feedparser resolves relative links against Content-Location; given bytes it knows no
    # URL, so give it the document's own URL (a relative Content-Location is resolved first).
    base = urljoin(url, response_headers.get("content-location", "")) or url
    response_headers["content-location"] = base
    try:
        body, response_headers = guard_entities(body, response_headers)
    except RefusedDocument as exc:
        return ParseResult((), error=str(exc))
    raws = parse_fast(body, response_headers) if fast else None
    if raws is not None:
        return ParseResult(tuple(e for e in (_entry(raw, base) for raw in raws) if e is not None))

    def run(data: bytes) -> Any:
        return feedparser.parse(
            data,
            response_headers=response_headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )

    parsed = run(body)
    notes: list[str] = []
    repairs: list[tuple[str, Callable[[bytes], bytes | None]]] = [
        ("removed text before the XML", _strip_leading_junk),
        ("escaped bare '&'", _escape_bare_ampersands),
    ]
    for note, repair in repairs:
        if _problem(parsed) is None:
            break
        fixed = repair(body)
        if fixed is None:
            continue
        candidate = run(fixed)
        if _better(candidate, parsed):
            parsed, body = candidate, fixed
            notes.append(note)

    if not parsed.entries and not parsed.get("version"):
        # Neither RSS nor Atom, nothing recovered: say what it is instead of "ok" for ever.
        return ParseResult((), error=not_a_feed(body, base))
    problem = _problem(parsed)
    if problem is not None:
        notes.append(problem)
    entries = tuple(e for e in (_entry(raw, base) for raw in parsed.entries) if e is not None)
    return ParseResult(entries, error="; ".join(notes) or None)


def _problem(parsed: Any) -> str | None:
    """The reason the document is broken, or None when it is not."""
    exc = parsed.get("bozo_exception")
    if not parsed.get("bozo") or isinstance(exc, _BENIGN):
        return None
    return f"{type(exc).__name__}: {exc}" if exc is not None else "broken feed"


def _better(candidate: Any, current: Any) -> bool:
    if len(candidate.entries) != len(current.entries):
        return len(candidate.entries) > len(current.entries)
    return _problem(candidate) is None


def _strip_leading_junk(body: bytes) -> bytes | None:
    start = body[len(_BOM) :] if body.startswith(_BOM) else body
    if start.lstrip().startswith(b"<"):
        return None
    match = _XML_START.search(body)
    return body[match.start() :] if match else None


def _escape_bare_ampersands(body: bytes) -> bytes | None:
    fixed = _BARE_AMP.sub(b"&amp;", body)
    return fixed if fixed != body else None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def _lead_image(raw: Any, base: str) -> str | None:
    """Enclosure of an image type, then media:content / media:thumbnail, then the first <img>."""
    for link in raw.get("links", []):
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            href = _text(link.get("href"))
            if href:
                return href
    for media in raw.get("media_content", []):
        kind = str(media.get("type") or media.get("medium") or "image")
        if kind.startswith("image") and _text(media.get("url")):
            return _text(media.get("url"))
    for thumb in raw.get("media_thumbnail", []):
        if _text(thumb.get("url")):
            return _text(thumb.get("url"))
    for content in raw.get("content", []):
        image = first_image(content.get("value"))
        if image:
            return _resolve(image, base)
    image = first_image(raw.get("summary"))
    return _resolve(image, base) if image else None


def _resolve(url: str, base: str) -> str:
    """An <img> src from the HTML, made absolute against the document (feedparser no longer
    rewrites URLs inside HTML: resolve_relative_uris=False, see _parse_feed)."""
    try:
        return urljoin(base, url)
    except ValueError:
        return url


def _content(raw: Any) -> str | None:
    """The fullest body: prefer an HTML content block, else the first one (as HTML)."""
    blocks = raw.get("content") or []
    for block in blocks:
        if "html" in str(block.get("type", "")):
            return _text(block.get("value"))
    if not blocks:
        return None
    return _as_html(blocks[0], "value", blocks[0].get("type"))


def _as_html(raw: Any, key: str, kind: str | None = None) -> str | None:
    """A text field as HTML. feedparser marks a field text/plain when it does not look like
    markup; its "<" and "&" are then literal text (`<Kinh tế số>` in a title), and normalise()
    reads every field as HTML, so escape them here or they vanish as unknown tags."""
    value = _text(raw.get(key))
    if kind is None:
        kind = (raw.get(f"{key}_detail") or {}).get("type")
    if value is not None and kind == "text/plain":
        return html.escape(value, quote=False)
    return value


def _entry(raw: Any, base: str) -> Entry | None:
    url = _text(raw.get("link"))
    title = _as_html(raw, "title")
    if url is None and title is None:
        return None  # ads and placeholders: nothing to link to, nothing to show
    guid = _text(raw.get("id")) or url
    if guid is None:
        guid = "sha256:" + hashlib.sha256((title or "").encode()).hexdigest()
    summary = _as_html(raw, "summary")
    content = _content(raw)
    if content == summary:
        content = None
    tags = tuple(t for t in (_text(tag.get("term")) for tag in raw.get("tags", [])) if t)
    published = _text(raw.get("published") or raw.get("updated") or raw.get("created"))
    return Entry(
        guid=guid,
        url=url,
        title=title,
        summary=summary,
        content=content,
        image=_lead_image(raw, base),
        published=published,
        categories=tags,
        base_url=base,
    )
