"""One entry point from a fetched document to raw entries, for any source kind.

Kept apart from the poller so a parse worker process imports only the parsers (feedparser,
the JSON mapper), not storage, HTTP or logging: its memory stays small.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syndicator.types import ParseResult


def parse_document(
    kind: str,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    mapping: Mapping[str, Any] | None = None,
) -> ParseResult:
    """RSS/Atom (kind "rss" and anything not "json") or a JSON API document (with its mapping)."""
    if kind == "json":
        from syndicator.sources.jsonapi import parse_json

        assert mapping is not None
        return parse_json(body, dict(mapping), url)
    from syndicator.sources.rss import parse_feed

    return parse_feed(body, headers, url)
