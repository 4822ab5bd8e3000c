"""Table tests for canonical URLs, content hashes and fingerprints."""

from __future__ import annotations

import unicodedata

import pytest

from syndicator.sources.identity import canonical_url, content_hash, fingerprint

BASE = "https://example-province.gov.vn/tin-tuc/bai-viet.html"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (BASE, BASE),
        ("http://example-province.gov.vn/tin-tuc/bai-viet.html", BASE),
        ("HTTPS://Example-Province.GOV.VN/tin-tuc/bai-viet.html", BASE),
        ("https://example-province.gov.vn:443/tin-tuc/bai-viet.html", BASE),
        ("http://example-province.gov.vn:80/tin-tuc/bai-viet.html", BASE),
        (BASE + "#binh-luan", BASE),
        (BASE + "?utm_source=rss&utm_medium=feed", BASE),
        (BASE + "?fbclid=IwAR0abc", BASE),
        (BASE + "?zarsrc=30&zlsid=abc&gclid=x", BASE),
        ("  \n" + BASE + "\n ", BASE),
        ("https://example-province.gov.vn/tin/107/", "https://example-province.gov.vn/tin/107"),
        ("http://example-province.gov.vn/tin/107", "https://example-province.gov.vn/tin/107"),
        ("https://example-province.gov.vn", "https://example-province.gov.vn/"),
        ("https://example-province.gov.vn/", "https://example-province.gov.vn/"),
        ("https://x.gov.vn/a.aspx?id=1&amp;cat=2", "https://x.gov.vn/a.aspx?cat=2&id=1"),
        ("https://x.gov.vn/a.aspx?id=1&amp;amp;cat=2", "https://x.gov.vn/a.aspx?cat=2&id=1"),
        ("https://x.gov.vn/a.aspx?b=2&a=1&utm_campaign=z", "https://x.gov.vn/a.aspx?a=1&b=2"),
        ("https://x.gov.vn/a.aspx?ItemID=101", "https://x.gov.vn/a.aspx?ItemID=101"),
        ("https://x.gov.vn:8443/a", "https://x.gov.vn:8443/a"),
        ("https://x.gov.vn/tin-tức", "https://x.gov.vn/tin-t%E1%BB%A9c"),
        ("https://x.gov.vn/tin-t%e1%bb%a9c", "https://x.gov.vn/tin-t%E1%BB%A9c"),
        ("mailto:bbt@x.gov.vn", "mailto:bbt@x.gov.vn"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    """Links to the same page have the same canonical form."""
    assert canonical_url(url) == expected


def test_canonical_url_nfd_path() -> None:
    """A path typed in NFD compares equal to its NFC form."""
    nfd = unicodedata.normalize("NFD", "https://x.gov.vn/tin-tức")
    assert canonical_url(nfd) == canonical_url("https://x.gov.vn/tin-tức")


def test_canonical_url_keeps_meaningful_parameters() -> None:
    """Parameters that select the article are kept; only trackers go."""
    assert canonical_url("https://x.gov.vn/a?id=1") != canonical_url("https://x.gov.vn/a?id=2")


def test_content_hash_ignores_form_not_words() -> None:
    """The hash is stable across NFC/NFD and spacing, and changes when a word changes."""
    title = "Ủy ban nhân dân tỉnh"
    h = content_hash(title, "Tóm tắt", "Nội dung")
    assert h == content_hash(unicodedata.normalize("NFD", title), " Tóm  tắt\n", "Nội dung")
    assert h != content_hash(title, "Tóm tắt", "Nội dung mới")
    assert len(h) == 64


def test_content_hash_field_boundaries() -> None:
    """Moving text from one field to the next changes the hash."""
    assert content_hash("a b", "c", "") != content_hash("a", "b c", "")


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("Lịch tiếp công dân", "Ủy ban tiếp dân."), ("LỊCH TIẾP CÔNG DÂN", "ủy ban tiếp dân")),
        (
            ("Lịch tiếp công dân", "Ủy ban tiếp dân."),
            (unicodedata.normalize("NFD", "Lịch tiếp công dân"), "Ủy ban  tiếp dân!"),
        ),
        (("Thông báo: tuyển dụng", "x"), ("Thông báo – tuyển dụng", "x")),
    ],
)
def test_fingerprint_equal(left: tuple[str, str], right: tuple[str, str]) -> None:
    """Case, NFC/NFD, punctuation and spacing do not change the fingerprint."""
    assert fingerprint(*left) == fingerprint(*right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("Cảnh báo bão số 3", ""), ("Cảnh báo báo số 3", "")),  # storm vs newspaper
        (
            ("Lịch công tác tuần", "Tuần 45: thứ Hai họp"),
            ("Lịch công tác tuần", "Tuần 46: thứ Hai"),
        ),
        (("Thông báo", "a"), ("Thong bao", "a")),
    ],
)
def test_fingerprint_different(left: tuple[str, str], right: tuple[str, str]) -> None:
    """Diacritics and the opening words of the text keep different stories apart."""
    assert fingerprint(*left) != fingerprint(*right)


def test_fingerprint_uses_only_the_opening_text() -> None:
    """Text after the first 40 words (a portal's footer) does not matter."""
    opening = " ".join(f"từ{i}" for i in range(40))
    assert fingerprint("Tiêu đề", opening + " Nguồn: Sở A") == fingerprint(
        "Tiêu đề", opening + " Xem thêm"
    )
