"""What to tell the operator when a source URL answers with something that is not a feed.

The usual mistake is the portal's news page (HTML) given as the feed URL. Portals advertise
their feeds in the page head with `<link rel="alternate" type="application/rss+xml" href=...>`
(RSS Advisory Board, "RSS Autodiscovery"; Atom uses application/atom+xml), so the error lists
those links: the fix is one copy and paste into `[[sources]] url`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

FEED_TYPES = ("application/rss+xml", "application/atom+xml")
_LOOKS_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_SCAN_BYTES = 512 * 1024  # the head of a page is at its start; do not parse a huge page whole
_MAX_LINKS = 5


class _FeedLinks(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        values = {k.lower(): (v or "").strip() for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";", 1)[0].strip()
        href = values.get("href")
        if "alternate" in rels and kind in FEED_TYPES and href:
            try:
                link = urljoin(self.base, href)
            except ValueError:
                return
            if link not in self.links:
                self.links.append(link)


def advertised_feeds(body: bytes, base: str) -> list[str]:
    """The feed URLs an HTML page advertises, absolute, in page order."""
    parser = _FeedLinks(base)
    try:
        parser.feed(body[:_SCAN_BYTES].decode("utf-8", "replace"))
        parser.close()
    except Exception:  # html.parser is lenient; anything else just means no links
        pass
    return parser.links


def not_a_feed(body: bytes, base: str) -> str:
    """One line for a document that is neither RSS nor Atom (the source's error)."""
    if not body.strip():
        return "not a feed: the response is empty"
    if _LOOKS_HTML.search(body[:_SCAN_BYTES]):
        links = advertised_feeds(body, base)
        if links:
            shown = ", ".join(links[:_MAX_LINKS])
            more = f" (and {len(links) - _MAX_LINKS} more)" if len(links) > _MAX_LINKS else ""
            return (
                f"not a feed: the URL returned an HTML page; it advertises these feeds: "
                f"{shown}{more} (put one in this source's url)"
            )
        return (
            "not a feed: the URL returned an HTML page that advertises no RSS or Atom feed "
            '(no <link rel="alternate" type="application/rss+xml">); '
            "find the portal's RSS page and use a feed URL from it"
        )
    start = body[:60].decode("utf-8", "replace")
    start = "".join(c if c.isprintable() else " " for c in start).strip()
    return f"not a feed: neither RSS nor Atom (the document starts with {start!r})"
