"""parse_json: dotted paths, list indices, odd items and broken documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from syndicator.sources.jsonapi import parse_json, resolve_path

URL = "https://example-province.gov.vn/api/tin-tuc"
MAPPING = {
    "items": "data.items",
    "id": "id",
    "title": "title",
    "url": "links.0.href",
    "summary": "sapo",
    "content": "body.html",
    "image": "thumb",
    "published": "publishDate",
    "category": "cats",
}


def body(document: object) -> bytes:
    """The JSON bytes of a document."""
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def test_full_mapping() -> None:
    """Every mapped field lands in the entry, numbers and lists included."""
    item = {
        "id": 123,
        "title": "Thông báo mời thầu",
        "links": [{"href": "/tin/123.html"}, {"href": "/tin/123.amp"}],
        "sapo": "Tóm tắt",
        "body": {"html": "<p>Nội dung</p>"},
        "thumb": "/anh/123.jpg",
        "publishDate": "14/11/2025 08:30",
        "cats": ["Đấu thầu", {"name": "Tin tức"}, "", None],
    }
    result = parse_json(body({"data": {"items": [item]}}), MAPPING, URL)
    assert result.error is None
    (entry,) = result.entries
    assert entry.guid == "123" and entry.url == "/tin/123.html" and entry.base_url == URL
    assert entry.title == "Thông báo mời thầu" and entry.summary == "Tóm tắt"
    assert entry.content == "<p>Nội dung</p>" and entry.image == "/anh/123.jpg"
    assert entry.published == "14/11/2025 08:30"
    assert entry.categories == ("Đấu thầu", "Tin tức")


def test_document_is_the_list() -> None:
    """items = "" means the document itself is the list; a category may be a string."""
    mapping = {"items": "", "title": "t", "url": "u", "category": "c"}
    result = parse_json(body([{"t": "A", "u": "https://x.gov.vn/a", "c": "Văn bản"}]), mapping, URL)
    assert [(e.title, e.categories) for e in result.entries] == [("A", ("Văn bản",))]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1763083800, datetime(2025, 11, 14, 1, 30, tzinfo=UTC)),
        (1763083800000, datetime(2025, 11, 14, 1, 30, tzinfo=UTC)),
        ("2025-11-14T08:30:00+07:00", "2025-11-14T08:30:00+07:00"),
        (None, None),
        (True, None),
    ],
)
def test_published_values(value: object, expected: object) -> None:
    """Epoch seconds and milliseconds become datetimes; text is passed on for parse_date."""
    mapping = {"items": "", "title": "t", "published": "p"}
    (entry,) = parse_json(body([{"t": "A", "p": value}]), mapping, URL).entries
    assert entry.published == expected


def test_odd_items_are_skipped_and_noted() -> None:
    """Non-objects are skipped with a note; items without url and title vanish quietly."""
    document = [{"t": "A"}, "chuỗi", 5, {"x": 1}, {"t": "B"}]
    result = parse_json(body(document), {"items": "", "title": "t"}, URL)
    assert [e.title for e in result.entries] == ["A", "B"]
    assert result.error == "item 1 is str, not an object; item 2 is int, not an object"


def test_guid_falls_back_to_link_then_hash() -> None:
    """Without an id the link is the guid; without a link a hash of the title."""
    document = [{"t": "A", "u": "https://x.gov.vn/a"}, {"t": "B"}]
    a, b = parse_json(
        body(document), {"items": "", "title": "t", "url": "u", "id": "i"}, URL
    ).entries
    assert a.guid == "https://x.gov.vn/a"
    assert b.guid.startswith("sha256:") and len(b.guid) == 7 + 64


@pytest.mark.parametrize(
    ("raw", "mapping", "error"),
    [
        (b"{not json", MAPPING, "invalid JSON"),
        (b"\xff\xfe\x00", MAPPING, "invalid JSON"),
        (b"", MAPPING, "invalid JSON"),
        (b'{"data": {}}', MAPPING, "items path 'data.items' not found"),
        (b'{"data": {"items": {"a": 1}}}', MAPPING, "is dict, not a list"),
    ],
)
def test_broken_documents(raw: bytes, mapping: dict[str, str], error: str) -> None:
    """Broken input gives no entries and an error, never an exception."""
    result = parse_json(raw, mapping, URL)
    assert result.entries == () and result.error is not None and error in result.error


def test_bom_is_accepted() -> None:
    """A UTF-8 byte-order mark (common from .NET servers) is not an error."""
    result = parse_json(b"\xef\xbb\xbf" + body([{"t": "Ả"}]), {"items": "", "title": "t"}, URL)
    assert result.error is None and result.entries[0].title == "Ả"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a", {"b": [10, {"c": "x"}]}),
        ("a.b.0", 10),
        ("a.b.1.c", "x"),
        ("a.b.-1.c", "x"),
        ("", {"a": {"b": [10, {"c": "x"}]}}),
    ],
)
def test_resolve_path(path: str, expected: object) -> None:
    """Dotted paths walk objects and index lists."""
    assert resolve_path({"a": {"b": [10, {"c": "x"}]}}, path) == expected


@pytest.mark.parametrize("path", ["x", "a.b.2", "a.b.z", "a.b.0.c"])
def test_resolve_missing_path(path: str) -> None:
    """A missing step gives the missing sentinel, not an exception."""
    from syndicator.sources.jsonapi import _MISSING

    assert resolve_path({"a": {"b": [10, {"c": "x"}]}}, path) is _MISSING


def test_none_paths_mean_unmapped() -> None:
    """A mapping dumped from a config model (None for unset fields) is accepted."""
    mapping = {"items": None, "title": "t", "url": None, "summary": None}
    (entry,) = parse_json(body([{"t": "A"}]), mapping, URL).entries  # type: ignore[arg-type]
    assert entry.title == "A" and entry.url is None
