"""The fast path for Atom 1.0 (see fastfeed.py): the same raw-entry values feedparser builds,
or Decline. Text constructs of type text or html only; inline XHTML, `content src`, xml:base
and unknown elements are feedparser's. Each step names the feedparser rule it copies."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin

from syndicator.sources.fastparts import (
    ATOM,
    Decline,
    attributes,
    category,
    element_text,
    finish,
    guid,
    has_base,
    media,
)

A = f"{{{ATOM}}}"
# Feed children that only write feed-level values; author/contributor may hold these people.
ATOM_FEED = {
    f"{A}{n}"
    for n in ("title", "subtitle", "id", "updated", "rights", "generator", "icon", "logo",
              "category", "author", "contributor", "link", "entry")
}  # fmt: skip
_PEOPLE = {f"{A}author", f"{A}contributor"}
_PERSON = {f"{A}name", f"{A}email", f"{A}uri"}
ATOM_TYPES = ("text/plain", "text/html")  # "xhtml" is inline markup: feedparser's job


def atom_entries(root: ET.Element, base: str) -> list[dict[str, Any]]:
    """An Atom 1.0 feed (the namespace declared on <feed> makes it atom10 for feedparser)."""
    if any(k != "{http://www.w3.org/XML/1998/namespace}lang" for k in root.attrib):
        raise Decline("feed attributes")  # xml:base above all
    entries = []
    for child in root:
        tag = child.tag.lower()
        if tag not in ATOM_FEED or has_base(child):
            raise Decline(f"feed element {child.tag!r}")
        if tag == f"{A}entry":
            entries.append(_atom_entry(child, base))
        elif tag in _PEOPLE:
            _person(child)
        elif tag == f"{A}link":
            if len(child) or "href" not in {k.lower() for k in child.attrib}:
                raise Decline("feed link without href")
        elif len(child):
            raise Decline(f"children in feed element {child.tag!r}")
    return entries


def _person(element: ET.Element) -> None:
    """<author>/<contributor>: only name, email, uri, which write author details only."""
    if element.attrib or any(c.tag.lower() not in _PERSON or c.attrib for c in element):
        raise Decline("unexpected person element")
    for child in element:
        element_text(child)


def _atom_type(element: ET.Element, default: str) -> str:
    """push_content: the type attribute through map_content_type; nothing else accepted."""
    attrs = attributes(element)
    if set(attrs) - {"type"}:
        raise Decline("text construct attributes")  # src, mode, ...
    kind = _FeedParserMixin.map_content_type(attrs.get("type", default))
    if kind not in ATOM_TYPES:
        raise Decline(f"text construct of type {kind!r}")
    return str(kind)


def _atom_entry(entry_el: ET.Element, base: str) -> dict[str, Any]:
    if entry_el.attrib:
        raise Decline("entry attributes")
    entry: dict[str, Any] = {}
    seen: set[str] = set()
    for child in entry_el:
        tag = child.tag.lower()
        if has_base(child):
            raise Decline("xml:base")
        name = tag[len(A) :] if tag.startswith(A) else tag
        if name in ("title", "id", "published", "updated", "summary", "content", "rights"):
            if name in seen:
                raise Decline(f"two {name!r} in one entry")
            seen.add(name)
        if name == "title":
            kind = _atom_type(child, "text/plain")  # no looks_like_html guess in Atom
            entry["title"] = finish(element_text(child))
            entry["title_detail"] = {"type": kind}
        elif name == "id":
            if child.attrib:
                raise Decline("id attributes")
            guid(entry, child, base)  # _start_id is _start_guid: a link unless one is set
        elif name in ("published", "updated"):
            if child.attrib:
                raise Decline("date attributes")
            entry[name] = finish(element_text(child))
        elif name == "summary":
            kind = _atom_type(child, "text/plain")
            # After content the summary is a summary (hasContent); before, nothing is set.
            entry["summary"] = finish(element_text(child))
            entry["summary_detail"] = {"type": kind}
        elif name == "content":
            kind = _atom_type(child, "text/plain")
            value = finish(element_text(child))
            entry["content"] = [{"type": kind, "value": value}]
            entry.setdefault("summary", value)  # _end_content: text and HTML copy to summary
        elif name == "rights":
            _atom_type(child, "text/plain")
            element_text(child)
        elif name == "link":
            _atom_link(entry, child, base)
        elif name == "category":
            category(entry, child)
        elif tag in _PEOPLE:
            _person(child)
        elif not media(entry, child, tag):
            raise Decline(f"entry element {child.tag!r}")
    return entry


def _atom_link(entry: dict[str, Any], element: ET.Element, base: str) -> None:
    """_start_link with an href: resolved, listed, and the entry's link when it is the
    alternate HTML page (the last such wins; a link without href would be text: declined)."""
    if len(element):
        raise Decline("children in link")
    attrs: dict[str, Any] = attributes(element)
    attrs.setdefault("rel", "alternate")
    attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
    attrs = _FeedParserMixin._enforce_href(attrs)
    if "href" not in attrs:
        raise Decline("link without href")
    attrs["href"] = _urljoin(base, attrs["href"])
    entry.setdefault("links", []).append(attrs)
    kind = _FeedParserMixin.map_content_type(attrs.get("type"))
    if attrs.get("rel") == "alternate" and kind in _FeedParserMixin.html_types:
        entry["link"] = attrs["href"]
