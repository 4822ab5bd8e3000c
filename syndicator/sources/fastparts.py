"""Pieces the fast feed paths share (fastfeed.py for RSS 2.0, fastatom.py for Atom 1.0): each
copies one step of feedparser 6.0.x exactly, and says which."""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from typing import Any

from feedparser.html import _cp1252
from feedparser.urls import _urljoin

ATOM_NS = "http://www.w3.org/2005/Atom"  # as written in documents (ET keeps the case)
ATOM = ATOM_NS.lower()  # feedparser maps Atom to "" (its base namespace)
MEDIA_CONTENT = {
    f"{{{ns}}}content" for ns in ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")
}
MEDIA_THUMBNAIL = {
    f"{{{ns}}}thumbnail" for ns in ("http://search.yahoo.com/mrss/", "http://search.yahoo.com/mrss")
}
# An attribute named like this moves feedparser's base URI (mixin.unknown_starttag).
_BASE_ATTRS = {"base", "{http://www.w3.org/XML/1998/namespace}base"}
_C1 = re.compile("[\\x80-\\x9f]")


class Decline(Exception):
    """Not a document this path maps exactly: feedparser parses it."""


def has_base(element: ET.Element) -> bool:
    return any(key.lower() in _BASE_ATTRS for key in element.attrib)


def attributes(element: ET.Element) -> dict[str, str]:
    """Attributes as the strict parser reports them: names lower-cased, rel/type values too
    (parsers/strict.py _normalize_attributes). Namespaced attributes decline."""
    out: dict[str, str] = {}
    for key, value in element.attrib.items():
        if key.startswith("{"):
            raise Decline("namespaced attribute")
        key = key.lower()
        out[key] = value.lower() if key in ("rel", "type") else value
    return out


def element_text(element: ET.Element) -> str:
    """The element's text (no children allowed: feedparser would treat them as inline XHTML)."""
    if len(element):
        raise Decline("child elements inside a text element")
    return (element.text or "").strip()


def finish(output: str) -> str:
    """The last steps of mixin.pop for a str: the UTF-8-read-as-Latin-1 repair (the strict
    parser's encoding is always utf-8) and the cp1252 code point mapping."""
    if output.isascii():
        return output  # both steps leave ASCII alone
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        output = output.encode("iso-8859-1").decode("utf-8")
    # _cp1252 maps only U+0080-U+009F: look for one before translating character by character.
    return output.translate(_cp1252) if _C1.search(output) else output


def guid(entry: dict[str, Any], element: ET.Element, base: str) -> None:
    attrs = attributes(element)
    is_link = attrs.get("ispermalink", "true") == "true"  # value compared as written
    value = element_text(element)
    if value and is_link:
        value = _urljoin(base, value)  # a guid that is a link is resolved, others are not
    value = finish(value)
    entry["id"] = value
    if is_link:
        entry.setdefault("link", value)  # _end_guid: _save("link", value); <link> overwrites


def category(entry: dict[str, Any], element: ET.Element) -> None:
    """_start_category + _end_category + _add_tag, step for step."""
    attrs = attributes(element)
    tags: list[dict[str, Any]] = entry.setdefault("tags", [])

    def add(term: Any, scheme: Any, label: Any) -> None:
        if not term and not scheme and not label:
            return
        tag = {"term": term, "scheme": scheme, "label": label}
        if tag not in tags:
            tags.append(tag)

    add(attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs.get("label"))
    value = finish(element_text(element))
    if not value:
        return
    if tags and not tags[-1]["term"]:
        tags[-1]["term"] = value
    else:
        add(value, None, None)


def media(entry: dict[str, Any], element: ET.Element, tag: str) -> bool:
    """media:content and media:thumbnail (namespaces/mediarss.py): their attributes, listed.
    False when the element is neither."""
    if tag in MEDIA_CONTENT:
        if len(element):
            raise Decline("children in media:content")  # media:title sets the title
        entry.setdefault("media_content", []).append(attributes(element))
        return True
    if tag in MEDIA_THUMBNAIL:
        if element_text(element):
            raise Decline("text in media:thumbnail")  # it would become the url
        entry.setdefault("media_thumbnail", []).append(attributes(element))
        return True
    return False
