"""JSON API documents to raw entries, following a per-source field mapping.

Some portals (the newer Liferay/SharePoint/.NET CMSs) expose articles as JSON instead of RSS.
The config gives, for each source, a dotted path per field:

    items = "data.items"       # where the list of articles is; "" = the document is the list
    id = "id"                  title = "title"           url = "links.0.href"
    summary = "sapo"           content = "body"          image = "thumbnail.url"
    published = "publishDate"  category = "categories"   # a string or a list of strings

A path part that is a number indexes a list ("links.0.href"). Never raises: broken input
gives `ParseResult((), error=...)`, a bad item is skipped and noted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from syndicator.types import Entry, ParseResult

FIELDS = ("id", "title", "url", "summary", "content", "image", "published", "category")
# A mapping path for one of these that finds nothing in any item is a wrong mapping, not an
# empty field: without the title the summary would silently stand in for it (issue 10).
REQUIRED = ("title", "url")
_MISSING = object()
# Epoch numbers above this are milliseconds (JavaScript's Date.now()), below it seconds.
_MILLISECONDS_FROM = 100_000_000_000


def resolve_path(document: Any, path: str) -> Any:
    """The value at a dotted path ("a.0.b"), or a sentinel when any step is missing."""
    if path == "":
        return document
    current = document
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and _is_index(part)
            and -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _is_index(part: str) -> bool:
    return part.lstrip("-").isdigit()


def parse_json(body: bytes, mapping: Mapping[str, str], url: str) -> ParseResult:
    """Parse a JSON API response into entries using the source's field mapping."""
    try:
        document = json.loads(body)  # bytes: UTF-8/16/32 (with or without BOM) are detected
    except (ValueError, UnicodeDecodeError) as exc:
        return ParseResult((), error=f"invalid JSON: {exc}")
    items_path = mapping.get("items") or ""  # absent or None (a config model's default): root
    items = resolve_path(document, items_path)
    if items is _MISSING:
        return ParseResult((), error=f"items path {items_path!r} not found")
    if not isinstance(items, list):
        return ParseResult(
            (), error=f"items path {items_path!r} is {type(items).__name__}, not a list"
        )

    wrong = _unmatched_required(items, mapping)
    if wrong:
        return ParseResult((), error=wrong)
    entries: list[Entry] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            problems.append(f"item {index} is {type(item).__name__}, not an object")
            continue
        try:
            entry = _entry(item, mapping, url)
        except Exception as exc:  # one odd item must not lose the others
            problems.append(f"item {index}: {type(exc).__name__}: {exc}")
            continue
        if entry is not None:
            entries.append(entry)
    return ParseResult(tuple(entries), error="; ".join(problems) or None)


def _unmatched_required(items: list[Any], mapping: Mapping[str, str]) -> str | None:
    """The error for a required mapping path that matches no item, naming the key to fix."""
    objects = [item for item in items if isinstance(item, Mapping)]
    if not objects:
        return None
    for name in REQUIRED:
        path = mapping.get(name)
        if not path:
            continue
        if all(resolve_path(item, path) in (_MISSING, None) for item in objects):
            keys = ", ".join(list(objects[0])[:15])
            return (
                f"mapping.{name} = {path!r} matches nothing in any of the {len(objects)} "
                f"item(s); the first item has: {keys} (fix [sources.mapping] {name})"
            )
    return None


def _field(item: Mapping[str, Any], mapping: Mapping[str, str], name: str) -> Any:
    path = mapping.get(name)
    if not path:
        return None
    value = resolve_path(item, path)
    return None if value is _MISSING else value


def _string(value: Any) -> str | None:
    if value is None or isinstance(value, Mapping | list | bool):
        return None
    text = str(value).strip()  # ids and the like are often numbers
    return text or None


def _published(value: Any) -> str | datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value >= _MILLISECONDS_FROM else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return _string(value)


def _categories(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    names = []
    for v in values:
        # Some APIs give [{"name": "..."}]: take the name when it is there.
        if isinstance(v, Mapping):
            v = v.get("name") or v.get("title")
        text = _string(v)
        if text:
            names.append(text)
    return tuple(names)


def _entry(item: Mapping[str, Any], mapping: Mapping[str, str], base: str) -> Entry | None:
    link = _string(_field(item, mapping, "url"))
    title = _string(_field(item, mapping, "title"))
    if link is None and title is None:
        return None  # same rule as RSS: nothing to link to, nothing to show
    guid = _string(_field(item, mapping, "id")) or link
    if guid is None:
        guid = "sha256:" + hashlib.sha256((title or "").encode()).hexdigest()
    return Entry(
        guid=guid,
        url=link,
        title=title,
        summary=_string(_field(item, mapping, "summary")),
        content=_string(_field(item, mapping, "content")),
        image=_string(_field(item, mapping, "image")),
        published=_published(_field(item, mapping, "published")),
        categories=_categories(_field(item, mapping, "category")),
        base_url=base,
    )
