"""Parse only what changed: drop the items of a feed whose bytes were already stored.

A portal's feed changes by one or two items at a time, yet feedparser costs ~10 ms for the
whole 20-item document. Splitting the raw bytes into items and hashing each lets the poller
hand feedparser the header, the new or edited items and the footer only. An item whose bytes
are identical to one already stored (same document URL, same agency, same rules) would
normalise to the same article, so nothing is lost by not parsing it again.

The split is deliberately conservative: any doubt (namespaced tags, text between items, a
non-ASCII-compatible encoding, nothing to gain) returns None and the whole document is parsed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from datetime import datetime
from typing import Any

# An item is what rb"<(item|entry)(?=[\s>/])[^>]*>.*?</\1\s*>" (re.S) would match: its start
# tag found by this pattern, its end by bytes.find (the lazy ".*?" tried the end tag at every
# byte: ~90 us for a 13 KB feed, most of a trim; tests/sources/test_trim.py checks the two agree).
_START = re.compile(rb"<(item|entry)(?=[\s>/])[^>]*>")
_END_REST = re.compile(rb"\s*>")
_GAP = re.compile(rb"\s*(?:<!--.*?-->\s*)*", re.S)


def item_hash(item: bytes) -> bytes:
    return hashlib.blake2b(item, digest_size=16).digest()


def split_items(body: bytes) -> tuple[bytes, list[bytes], bytes] | None:
    """(header, items, footer) when the document is a plain run of <item>/<entry> elements."""
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:200]:
        return None  # UTF-16/32: the byte patterns below would not match reliably
    spans = item_spans(body)
    if not spans:
        return None
    for (_, end), (start, _) in itertools.pairwise(spans):
        if not _GAP.fullmatch(body, end, start):
            return None  # something else sits between two items: parse it all
    return body[: spans[0][0]], [body[a:b] for a, b in spans], body[spans[-1][1] :]


def item_spans(body: bytes) -> list[tuple[int, int]]:
    """(start, end) of each <item>/<entry> element, left to right, not overlapping."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while (start := _START.search(body, pos)) is not None:
        close = b"</" + start.group(1)
        at = start.end()
        while (found := body.find(close, at)) != -1:
            rest = _END_REST.match(body, found + len(close))
            if rest is not None:
                spans.append((start.start(), rest.end()))
                pos = rest.end()
                break
            at = found + 1
        else:  # never closed: as the pattern, look for another start after this one
            pos = start.start() + 1
    return spans


def trim(body: bytes, known: set[bytes]) -> tuple[bytes, list[bytes]] | None:
    """The document with only unknown items, and every item's hash; None: parse it all."""
    split = split_items(body)
    if split is None:
        return None
    header, items, footer = split
    hashes = [item_hash(item) for item in items]
    fresh = [item for item, digest in zip(items, hashes, strict=True) if digest not in known]
    if len(fresh) == len(items):
        return None  # nothing to save
    return header + b"".join(fresh) + footer, hashes


def all_hashes(body: bytes) -> list[bytes]:
    split = split_items(body)
    return [item_hash(item) for item in split[1]] if split else []


# -- memory across restarts ----------------------------------------------------------------
# The poller remembers, per source, the item hashes of the last document it stored and the
# raw entries it normalised (digest -> guid, content hash), with the source's stamp (articles
# count, latest update) as its own write left it. Kept in memory only, a restarted daemon
# parsed and normalised every changed feed whole (issue 11): stored as JSON on the source row.

Memory = tuple[tuple[str, str], Any, set[bytes] | None, dict[bytes, tuple[str, str]] | None]


def dump_memory(
    context: tuple[str, str],
    stamp: Any,
    items: set[bytes] | None,
    seen: dict[bytes, tuple[str, str]] | None,
) -> str:
    """(document URL, agency), stamp, item hashes and entry digests as compact JSON."""
    count, latest = stamp if stamp is not None else (None, None)
    return json.dumps(
        {
            "context": list(context),
            "stamp": [count, latest.isoformat() if isinstance(latest, datetime) else latest],
            "items": sorted(h.hex() for h in items) if items is not None else None,
            "seen": [[d.hex(), g, h] for d, (g, h) in seen.items()] if seen is not None else None,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def load_memory(text: str) -> Memory | None:
    """What dump_memory wrote; None for anything unreadable (the document is parsed whole)."""
    try:
        data = json.loads(text)
        url, agency = data["context"]
        count, latest = data["stamp"]
        stamp = (
            (int(count), datetime.fromisoformat(latest) if latest else None)
            if count is not None
            else None
        )
        items = {bytes.fromhex(h) for h in data["items"]} if data["items"] is not None else None
        seen = (
            {bytes.fromhex(d): (str(g), str(h)) for d, g, h in data["seen"]}
            if data["seen"] is not None
            else None
        )
    except (ValueError, TypeError, KeyError):
        return None
    return (str(url), str(agency)), stamp, items, seen
