"""A fast path for the common feed: well-formed RSS 2.0, parsed with the C parser (expat).

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
refuses, an encoding feedparser cannot settle cleanly, Atom, RSS 0.9x/1.0, any element or
namespace not in the tables below, duplicated single-valued elements, child elements inside text
elements (inline XHTML), attributes that change feedparser's state (xml:base, CDF `href`), and
text inside media:thumbnail. `tests/sources/test_fastfeed.py` parses every fixture and many
generated variations both ways: the results must be equal, or this path must decline.
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri

# Same set as rss._BENIGN: feedparser flags these, yet the strict parser still runs.
_BENIGN = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)

# Namespaces feedparser knows (its `_matchnamespaces`, compared lower-cased), as the prefix it
# gives their elements. Only these few are accepted; any other namespace declines.
_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_DC = "http://purl.org/dc/elements/1.1/"
_SLASH = "http://purl.org/rss/1.0/modules/slash/"  # slash:comments, a count: ignored
_ATOM = "http://www.w3.org/2005/atom"  # feedparser maps Atom to "" (its base namespace)
_MEDIA = ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")

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
# An attribute named like this moves feedparser's base URI (mixin.unknown_starttag).
_BASE_ATTRS = {"base", "{http://www.w3.org/XML/1998/namespace}base"}
_LINK_REF = re.compile("&([A-Za-z0-9_]+);")
_C1 = re.compile("[\x80-\x9f]")


class _Decline(Exception):
    """Not a document this path maps exactly: feedparser parses it."""


def parse_rss(body: bytes, headers: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """Raw entries (feedparser's keys, as far as rss._entry reads them), or None to decline.

    `headers` are the response headers rss.py hands feedparser (lower-case keys, with
    content-location set to the document's URL).
    """
    try:
        return _parse(body, headers)
    except (_Decline, ET.ParseError, ValueError, LookupError):
        return None


def _parse(body: bytes, headers: Mapping[str, str]) -> list[dict[str, Any]]:
    # api.parse: decode exactly as feedparser does, then the strict parser over UTF-8.
    result: dict[str, Any] = {}
    data = convert_to_utf8(dict(headers), body, result)
    if not result.get("encoding"):
        raise _Decline("feedparser would use its loose parser")
    if result.get("bozo") and not isinstance(result.get("bozo_exception"), _BENIGN):
        raise _Decline("encoding trouble")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _Decline("a DTD: left to the guarded feedparser path")
    base = _base_uri(headers.get("content-location", ""))
    root = ET.fromstring(data)
    if root.tag != "rss" or not root.get("version", "").startswith("2."):
        raise _Decline("not RSS 2.0")  # _base._start_rss: "2.*" is rss20
    if any(k != "version" for k in root.attrib) or len(root) != 1:
        raise _Decline("unexpected rss element")
    channel = root[0]
    if channel.tag != "channel" or channel.attrib:
        raise _Decline("no plain channel")  # _cdf_common reads channel attributes
    entries = []
    for child in channel:
        tag = child.tag.lower() if isinstance(child.tag, str) else child.tag
        if tag == f"{{{_ATOM}}}link" and len(child) == 0 and child.get("href"):
            continue  # atom:link rel="self": a feed-level link with an href, nothing pushed
        if not isinstance(tag, str) or tag not in _CHANNEL or _has_base(child):
            raise _Decline(f"channel element {tag!r}")
        if tag == "item":
            entries.append(_item(child, base))
        elif tag == "image":
            if any(c.tag not in _IMAGE or len(c) or _has_base(c) for c in child):
                raise _Decline("unexpected image element")
        elif len(child):
            raise _Decline(f"children in channel element {tag!r}")
    return entries


def _base_uri(content_location: str) -> str:
    """The base feedparser resolves links against: api.parse, then every start tag without
    xml:base applying make_safe_absolute_uri(base, base); declined unless that is stable."""
    base = make_safe_absolute_uri("", content_location) or make_safe_absolute_uri(content_location)
    base = base or ""
    step = (make_safe_absolute_uri(base, base) or base) if base else _urljoin(base, base)
    again = (make_safe_absolute_uri(step, step) or step) if step else _urljoin(step, step)
    if again != step:
        raise _Decline("unstable base URI")
    return step


def _has_base(element: ET.Element) -> bool:
    return any(key.lower() in _BASE_ATTRS for key in element.attrib)


def _attrs(element: ET.Element) -> dict[str, str]:
    """Attributes as the strict parser reports them: names lower-cased, rel/type values too
    (parsers/strict.py _normalize_attributes). Namespaced attributes decline."""
    out: dict[str, str] = {}
    for key, value in element.attrib.items():
        if key.startswith("{"):
            raise _Decline("namespaced attribute")
        key = key.lower()
        out[key] = value.lower() if key in ("rel", "type") else value
    return out


def _text(element: ET.Element) -> str:
    """The element's text (no children allowed: feedparser would treat them as inline XHTML)."""
    if len(element):
        raise _Decline("child elements inside a text element")
    return (element.text or "").strip()


def _finish(output: str) -> str:
    """The last steps of mixin.pop for a str: the UTF-8-read-as-Latin-1 repair (the strict
    parser's encoding is always utf-8) and the cp1252 code point mapping."""
    if output.isascii():
        return output  # both steps leave ASCII alone
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        output = output.encode("iso-8859-1").decode("utf-8")
    # _cp1252 maps only U+0080-U+009F: look for one before translating character by character.
    return output.translate(_cp1252) if _C1.search(output) else output


def _item(item: ET.Element, base: str) -> dict[str, Any]:
    if item.attrib:
        raise _Decline("item attributes")  # rdf:about, CDF href/lastmod set id/link
    entry: dict[str, Any] = {}
    seen: set[str] = set()
    for child in item:
        tag = child.tag
        if not isinstance(tag, str) or _has_base(child):
            raise _Decline("unexpected item node")
        key = tag.lower()  # the strict parser lower-cases names (and namespace URIs match so)
        if key in _ONCE:
            if key in seen:
                raise _Decline(f"two {key!r} in one item")
            seen.add(key)
            name = _ONCE[key]
            if name == "link":
                _link(entry, child, base)
            elif name == "guid":
                _guid(entry, child, base)
            elif name == "title":
                _title(entry, child)
            elif name == "description":
                if child.attrib:
                    raise _Decline("description attributes")
                entry["summary"] = _finish(_text(child))
                entry["summary_detail"] = {"type": "text/html"}
            elif name == "content":
                if child.attrib:
                    raise _Decline("content attributes")
                value = _finish(_text(child))
                entry.setdefault("content", []).append({"type": "text/html", "value": value})
                # _end_content copies it to summary unless one is already set.
                entry.setdefault("summary", value)
            else:
                entry[name] = _finish(_text(child))
        elif key == "category":
            _category(entry, child)
        elif key == "enclosure":
            _enclosure(entry, child)
        elif key in (f"{{{_MEDIA[0]}}}content", f"{{{_MEDIA[1]}}}content"):
            if len(child):
                raise _Decline("children in media:content")  # media:title sets the title
            entry.setdefault("media_content", []).append(_attrs(child))
        elif key in (f"{{{_MEDIA[0]}}}thumbnail", f"{{{_MEDIA[1]}}}thumbnail"):
            if _text(child):
                raise _Decline("text in media:thumbnail")  # it would become the url
            entry.setdefault("media_thumbnail", []).append(_attrs(child))
        elif key in _IGNORED_IN_ITEM:
            _text(child)  # children would be inline markup: decline those
        else:
            raise _Decline(f"item element {tag!r}")
    # Whichever came first, a description sets summary with its detail (after content:encoded
    # hasContent is set, so _start_description pops a plain description): it wins.
    return entry


def _title(entry: dict[str, Any], element: ET.Element) -> None:
    if element.attrib:
        raise _Decline("title attributes")  # type="html" etc.
    value = _text(element)
    kind = "text/plain"
    # mixin.pop: outside Atom a text/plain value that looks like HTML is marked text/html.
    if _FeedParserMixin.looks_like_html(value):
        kind = "text/html"
    entry["title"] = _finish(value)
    entry["title_detail"] = {"type": kind}


def _link(entry: dict[str, Any], element: ET.Element, base: str) -> None:
    if element.attrib:
        raise _Decline("link attributes")  # an href makes it an Atom-style link
    value = _text(element)
    if value:
        value = _urljoin(base, value)  # "link" can be a relative URI (mixin.pop)
    value = _finish(value)
    # mixin.pop repairs "?a=1&b;=2" in entry links.
    value = _LINK_REF.sub(r"&\g<1>", value.replace("&amp;", "&"))
    entry["link"] = value  # a <link> element wins over a guid used as link
    link: dict[str, str] = {"rel": "alternate", "type": "text/html"}
    if value:
        link["href"] = value
    entry.setdefault("links", []).append(link)


def _guid(entry: dict[str, Any], element: ET.Element, base: str) -> None:
    attrs = _attrs(element)
    is_link = attrs.get("ispermalink", "true") == "true"  # value compared as written
    value = _text(element)
    if value and is_link:
        value = _urljoin(base, value)  # a guid that is a link is resolved, others are not
    value = _finish(value)
    entry["id"] = value
    if is_link:
        entry.setdefault("link", value)  # _end_guid: _save("link", value); <link> overwrites


def _category(entry: dict[str, Any], element: ET.Element) -> None:
    """_start_category + _end_category + _add_tag, step for step."""
    attrs = _attrs(element)
    tags: list[dict[str, Any]] = entry.setdefault("tags", [])

    def add(term: Any, scheme: Any, label: Any) -> None:
        if not term and not scheme and not label:
            return
        tag = {"term": term, "scheme": scheme, "label": label}
        if tag not in tags:
            tags.append(tag)

    add(attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs.get("label"))
    value = _finish(_text(element))
    if not value:
        return
    if tags and not tags[-1]["term"]:
        tags[-1]["term"] = value
    else:
        add(value, None, None)


def _enclosure(entry: dict[str, Any], element: ET.Element) -> None:
    """_start_enclosure: the attributes with url/uri/href as "href" (not resolved)."""
    if len(element):
        raise _Decline("children in enclosure")
    attrs: dict[str, Any] = _attrs(element)
    href = attrs.get("url", attrs.get("uri", attrs.get("href")))
    if href:
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href
    attrs["rel"] = "enclosure"
    entry.setdefault("links", []).append(attrs)
