"""A fast path for the common feed: well-formed RSS 2.0 or Atom 1.0, parsed by expat (C).

feedparser spends ~0.3–0.6 ms per entry in pure-Python SAX callbacks, and a first poll of a
province's portals parses tens of thousands of entries. Nearly all of them come in one plain
shape: `<rss version="2.0"><channel>…<item>` with title, link, guid, pubDate, description,
perhaps content:encoded, enclosure, media:content, categories. For that shape this module builds
the same raw-entry values feedparser would (only the keys `rss._entry` reads), so `rss.py` turns
them into identical `Entry` values. feedparser's own code (feedparser 6.0.x: `mixin.py`
`pop()`, `namespaces/_base.py`, `namespaces/mediarss.py`, `parsers/strict.py`, `api.py`) is the
specification; the comments below name the rule each step copies.

Being conservative is the point: anything not mapped exactly returns None and the caller uses
feedparser. That covers a DOCTYPE (never parsed here: no DTD, no entities), a document expat
refuses, an encoding feedparser cannot settle cleanly, RSS 0.9x/1.0, Atom 0.3, any element or
namespace not in the tables below, duplicated single-valued elements, child elements inside text
elements (inline XHTML), attributes that change feedparser's state (xml:base, CDF `href`), and
text inside media:thumbnail. `tests/sources/test_fastfeed.py` parses every fixture and many
generated variations both ways: the results must be equal, or this path must decline.
Atom 1.0 is in fastatom.py, the steps both share in fastparts.py.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri

from syndicator.sources.fastatom import atom_entries
from syndicator.sources.fastparts import (
    ATOM,
    ATOM_NS,
    Decline,
    attributes,
    category,
    element_text,
    finish,
    guid,
    has_base,
    media,
)

# Same set as rss._BENIGN: feedparser flags these, yet the strict parser still runs.
_BENIGN = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)

# Namespaces feedparser knows (its `_matchnamespaces`, compared lower-cased), as the prefix it
# gives their elements. Only these few are accepted; any other namespace declines.
_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_DC = "http://purl.org/dc/elements/1.1/"
_SLASH = "http://purl.org/rss/1.0/modules/slash/"  # slash:comments, a count: ignored

# Item children whose value is a stripped, transformed text (mixin.pop), once per item at most.
_ONCE = {
    "title": "title",
    "link": "link",
    "description": "description",
    "guid": "guid",
    "pubdate": "published",
    f"{{{_CONTENT}}}encoded": "content",
    f"{{{_DC}}}date": "updated",
}
# Item children that write nothing rss._entry reads (author details, comments URL, count).
_IGNORED_IN_ITEM = {"author", "comments", f"{{{_DC}}}creator", f"{{{_SLASH}}}comments"}
# Channel children that only write feed-level values (no children allowed except <image>'s).
_CHANNEL = {
    "title", "link", "description", "language", "copyright", "managingeditor", "webmaster",
    "pubdate", "lastbuilddate", "category", "generator", "docs", "ttl", "image", "item",
}  # fmt: skip
_IMAGE = {"url", "title", "link", "width", "height", "description"}
_LINK_REF = re.compile("&([A-Za-z0-9_]+);")


def parse_fast(body: bytes, headers: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """Raw entries (feedparser's keys, as far as rss._entry reads them), or None to decline.

    `headers` are the response headers rss.py hands feedparser (lower-case keys, with
    content-location set to the document's URL).
    """
    try:
        return _parse(body, headers)
    except Exception:  # Decline, a ParseError, or a surprise here: feedparser decides
        return None


def _parse(body: bytes, headers: Mapping[str, str]) -> list[dict[str, Any]]:
    # api.parse: decode exactly as feedparser does, then the strict parser over UTF-8.
    result: dict[str, Any] = {}
    data = convert_to_utf8(dict(headers), body, result)
    if not result.get("encoding"):
        raise Decline("feedparser would use its loose parser")
    if result.get("bozo") and not isinstance(result.get("bozo_exception"), _BENIGN):
        raise Decline("encoding trouble")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise Decline("a DTD: left to the guarded feedparser path")
    base = _base_uri(headers.get("content-location", ""))
    root = ET.fromstring(data)
    if root.tag == f"{{{ATOM_NS}}}feed":
        return atom_entries(root, base)
    if root.tag != "rss" or not root.get("version", "").startswith("2."):
        raise Decline("neither RSS 2.0 nor Atom 1.0")  # _base._start_rss: "2.*" is rss20
    if any(k != "version" for k in root.attrib) or len(root) != 1:
        raise Decline("unexpected rss element")
    channel = root[0]
    if channel.tag != "channel" or channel.attrib:
        raise Decline("no plain channel")  # _cdf_common reads channel attributes
    entries = []
    for child in channel:
        tag = child.tag.lower() if isinstance(child.tag, str) else child.tag
        if tag == f"{{{ATOM}}}link" and len(child) == 0 and child.get("href"):
            continue  # atom:link rel="self": a feed-level link with an href, nothing pushed
        if not isinstance(tag, str) or tag not in _CHANNEL or has_base(child):
            raise Decline(f"channel element {tag!r}")
        if tag == "item":
            entries.append(_item(child, base))
        elif tag == "image":
            if any(c.tag not in _IMAGE or len(c) or has_base(c) for c in child):
                raise Decline("unexpected image element")
        elif len(child):
            raise Decline(f"children in channel element {tag!r}")
    return entries


@functools.lru_cache(maxsize=4096)
def _base_uri(content_location: str) -> str:
    """The base feedparser resolves links against: api.parse, then every start tag without
    xml:base applying make_safe_absolute_uri(base, base); declined unless that is stable.
    Cached: it depends on the feed's URL only, and four URL joins per changed feed were
    ~3 % of the event loop's steady work (issue 11). A Decline is not cached (raised again)."""
    base = make_safe_absolute_uri("", content_location) or make_safe_absolute_uri(content_location)
    base = base or ""
    step = (make_safe_absolute_uri(base, base) or base) if base else _urljoin(base, base)
    again = (make_safe_absolute_uri(step, step) or step) if step else _urljoin(step, step)
    if again != step:
        raise Decline("unstable base URI")
    return step


def _item(item: ET.Element, base: str) -> dict[str, Any]:
    if item.attrib:
        raise Decline("item attributes")  # rdf:about, CDF href/lastmod set id/link
    entry: dict[str, Any] = {}
    seen: set[str] = set()
    for child in item:
        tag = child.tag
        if not isinstance(tag, str) or has_base(child):
            raise Decline("unexpected item node")
        key = tag.lower()  # the strict parser lower-cases names (and namespace URIs match so)
        if key in _ONCE:
            if key in seen:
                raise Decline(f"two {key!r} in one item")
            seen.add(key)
            name = _ONCE[key]
            if name == "link":
                _link(entry, child, base)
            elif name == "guid":
                guid(entry, child, base)
            elif name == "title":
                _title(entry, child)
            elif name == "description":
                if child.attrib:
                    raise Decline("description attributes")
                entry["summary"] = finish(element_text(child))
                entry["summary_detail"] = {"type": "text/html"}
            elif name == "content":
                if child.attrib:
                    raise Decline("content attributes")
                value = finish(element_text(child))
                entry.setdefault("content", []).append({"type": "text/html", "value": value})
                # _end_content copies it to summary unless one is already set.
                entry.setdefault("summary", value)
            else:
                entry[name] = finish(element_text(child))
        elif key == "category":
            category(entry, child)
        elif key == "enclosure":
            _enclosure(entry, child)
        elif media(entry, child, key):
            pass
        elif key in _IGNORED_IN_ITEM:
            element_text(child)  # children would be inline markup: decline those
        else:
            raise Decline(f"item element {tag!r}")
    # Whichever came first, a description sets summary with its detail (after content:encoded
    # hasContent is set, so _start_description pops a plain description): it wins.
    return entry


def _title(entry: dict[str, Any], element: ET.Element) -> None:
    if element.attrib:
        raise Decline("title attributes")  # type="html" etc.
    value = element_text(element)
    kind = "text/plain"
    # mixin.pop: outside Atom a text/plain value that looks like HTML is marked text/html.
    if _FeedParserMixin.looks_like_html(value):
        kind = "text/html"
    entry["title"] = finish(value)
    entry["title_detail"] = {"type": kind}


def _link(entry: dict[str, Any], element: ET.Element, base: str) -> None:
    if element.attrib:
        raise Decline("link attributes")  # an href makes it an Atom-style link
    value = element_text(element)
    if value:
        value = _urljoin(base, value)  # "link" can be a relative URI (mixin.pop)
    value = finish(value)
    # mixin.pop repairs "?a=1&b;=2" in entry links.
    value = _LINK_REF.sub(r"&\g<1>", value.replace("&amp;", "&"))
    entry["link"] = value  # a <link> element wins over a guid used as link
    link: dict[str, str] = {"rel": "alternate", "type": "text/html"}
    if value:
        link["href"] = value
    entry.setdefault("links", []).append(link)


def _enclosure(entry: dict[str, Any], element: ET.Element) -> None:
    """_start_enclosure: the attributes with url/uri/href as "href" (not resolved)."""
    if len(element):
        raise Decline("children in enclosure")
    attrs: dict[str, Any] = attributes(element)
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    if href:
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href
    attrs["rel"] = "enclosure"
    entry.setdefault("links", []).append(attrs)
