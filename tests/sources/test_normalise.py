"""normalise(): text cleaning, safe HTML, absolute URLs, dates, flags and identity."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest

from syndicator.sources.normalise import clean_text, normalise, sanitise_html, truncate_words
from syndicator.types import Article, Entry, Flag

NOW = datetime(2025, 11, 15, 0, 0, tzinfo=UTC)
FEED = "https://example-province.gov.vn/rss/tin-tuc.rss"
MARKERS = ("TUYỆT MẬT", "TỐI MẬT", "MẬT", "Lưu hành nội bộ")


def run(**fields: object) -> Article | None:
    """Normalise an entry built from the given fields."""
    values: dict[str, object] = {"guid": None, "url": None, "title": None}
    values.update(fields)
    entry = Entry(**values)  # type: ignore[arg-type]
    return normalise(entry, source_id="s1", agency="Sở A", feed_url=FEED, now=NOW, markers=MARKERS)


def must(**fields: object) -> Article:
    """Normalise and insist on an article."""
    article = run(**fields)
    assert article is not None
    return article


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Tiêu đề\n   có xuống dòng  ", "Tiêu đề có xuống dòng"),
        (unicodedata.normalize("NFD", "Ủy ban nhân dân"), "Ủy ban nhân dân"),
        ("Th&ocirc;ng b&aacute;o&nbsp;&ndash; 2025", "Thông báo – 2025"),
        ("K&amp;#7871;t qu&amp;#7843;", "Kết quả"),
        ("K&#7871;t qu&#7843;", "Kết quả"),
        ("<p>Đoạn 1</p><p>Đoạn 2</p>", "Đoạn 1 Đoạn 2"),
        ("Chữ <b>đậm</b>nối", "Chữ đậmnối"),
        ("a<br>b</br>c", "a b c"),
        ("x<script>alert(1)</script>y<style>p{}</style>z", "xyz"),
        ("AT&amp;T &lt;b&gt;", "AT&T <b>"),
        ("", ""),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    """Plain text: tags dropped, entities (even double-escaped) decoded, NFC, single spaces."""
    assert clean_text(raw) == expected


def test_sanitise_html_keeps_structure_drops_danger() -> None:
    """Allowed tags stay, scripts and handlers go, relative links become absolute."""
    html = (
        '<h2>Tiêu đề</h2><p onclick="x()">Xem <a href="/van-ban/1.pdf">văn bản</a>'
        '<img src="anh.jpg" alt="Ảnh" width="9"></p><script>bad()</script>'
        '<a href="javascript:alert(1)">x</a><table><tr><td colspan="2">1</td></tr></table>'
    )
    out = sanitise_html(html, "https://x.gov.vn/tin-tuc/bai.html")
    assert '<a href="https://x.gov.vn/van-ban/1.pdf" rel="noopener noreferrer">' in out
    assert '<img src="https://x.gov.vn/tin-tuc/anh.jpg" alt="Ảnh">' in out
    assert "<h2>Tiêu đề</h2>" in out and '<td colspan="2">1</td>' in out
    assert "script" not in out and "onclick" not in out and "javascript" not in out


def test_sanitise_html_double_escaped_entities() -> None:
    """Double-escaped letters are repaired, double-escaped markup stays text."""
    out = sanitise_html("K&amp;#7871;t &amp;lt;b&amp;gt;", "https://x.gov.vn/")
    assert out == "Kết &amp;lt;b&amp;gt;"


def test_truncate_words() -> None:
    """Truncation cuts between words and never leaves half a syllable."""
    assert truncate_words("Một hai ba bốn", 100) == "Một hai ba bốn"
    assert truncate_words("Một hai ba bốn", 9) == "Một hai…"


def test_full_article() -> None:
    """A typical entry becomes a complete, NFC, absolute, UTC article."""
    a = must(
        guid=None,
        url="\n /tin-tuc/bai-1.html?utm_source=rss \n",
        title=unicodedata.normalize("NFD", "Lịch tiếp công dân"),
        summary="<p>Tóm&nbsp;tắt <img src='/anh/1.jpg'></p>",
        content="<p>Nội dung <b>chính</b></p>",
        published="14/11/2025 08:30",
        categories=(" Tin tức ", "Tin tức"),
    )
    assert a.url == "https://example-province.gov.vn/tin-tuc/bai-1.html?utm_source=rss"
    assert a.canonical_url == "https://example-province.gov.vn/tin-tuc/bai-1.html"
    assert a.guid == a.url
    assert a.title == "Lịch tiếp công dân" and unicodedata.is_normalized("NFC", a.title)
    assert a.summary == "Tóm tắt"
    assert a.content_text == "Nội dung chính"
    assert a.content_html == "<p>Nội dung <b>chính</b></p>"
    assert a.image_url == "https://example-province.gov.vn/anh/1.jpg"
    assert a.published_at == datetime(2025, 11, 14, 1, 30, tzinfo=UTC)
    assert a.source_categories == ("Tin tức",)
    assert a.flags == frozenset() and a.agency == "Sở A" and a.source_id == "s1"
    assert len(a.content_hash) == 64 and len(a.fingerprint) == 64


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "Chỉ có tiêu đề"},
        {"url": "javascript:alert(1)", "title": "T"},
        {"url": "mailto:a@b.vn", "title": "T"},
        {"url": "https://x.gov.vn/a"},
        {"guid": "tag:x,2025:1", "title": "T"},
    ],
)
def test_unusable_entries(fields: dict[str, object]) -> None:
    """No http(s) link, or no text at all, gives None."""
    assert run(**fields) is None


def test_guid_permalink_stands_in_for_link() -> None:
    """An RSS guid that is a URL is used when <link> is missing."""
    a = must(guid="https://x.gov.vn/a?id=1&amp;c=2", title="T")
    assert a.url == "https://x.gov.vn/a?id=1&c=2" and a.guid == a.url


def test_title_from_summary() -> None:
    """A missing title is taken from the start of the summary."""
    a = must(url="https://x.gov.vn/a", summary="Nội dung " * 40)
    assert a.title.endswith("…") and len(a.title) <= 120


def test_summary_from_content() -> None:
    """A missing summary is taken from the start of the content."""
    a = must(url="https://x.gov.vn/a", title="T", content="<p>" + "chữ " * 200 + "</p>")
    assert a.summary.endswith("…") and len(a.summary) <= 300


def test_no_date_flag() -> None:
    """Missing, placeholder and future dates leave published_at None and set NO_DATE."""
    for published in (None, "Mon, 01 Jan 0001 00:00:00 GMT", "01/01/2030"):
        a = must(url="https://x.gov.vn/a", title="T", published=published)
        assert a.published_at is None and Flag.NO_DATE in a.flags


def test_tcvn3_converted_and_flagged() -> None:
    """TCVN3 mojibake is converted in every text field and flagged."""
    a = must(
        url="https://x.gov.vn/a",
        title="Uñy ban nh©n d©n tØnh",
        summary="<p>Th«ng b¸o lÞch tiÕp c«ng d©n</p>",
    )
    assert a.title == "Ủy ban nhân dân tỉnh"
    assert a.summary == a.content_text == "Thông báo lịch tiếp công dân"
    assert a.content_html == "<p>Thông báo lịch tiếp công dân</p>"
    assert Flag.TCVN3 in a.flags


def test_secrecy_marker_holds() -> None:
    """A secrecy marker found at normalisation already holds the article."""
    a = must(url="https://x.gov.vn/a", title="Công văn MẬT số 5")
    assert a.secrecy_marker == "MẬT" and a.held


def test_nfc_nfd_duplicates_share_identity() -> None:
    """The NFC/NFD + utm_source trap gives equal canonical URL, fingerprint and hash."""
    title = "Ủy ban nhân dân tỉnh Quảng Ngãi thông báo lịch tiếp công dân tháng 11"
    url = "https://example-province.gov.vn/tin-tuc/lich.html"
    a = must(url=url, title=title, summary=title + ".")
    b = must(
        url=url + "?utm_source=rss",
        title=unicodedata.normalize("NFD", title),
        summary=unicodedata.normalize("NFD", title + "."),
    )
    assert a.canonical_url == b.canonical_url
    assert a.fingerprint == b.fingerprint and a.content_hash == b.content_hash


def test_control_and_bidi_characters_are_removed() -> None:
    """NUL, escape sequences' ESC, C1 controls, surrogates and bidi overrides go; tab and
    newline separate words as before."""
    article = must(
        title="Tin\x00 \x1b[31mđỏ\u202e\u2066 một\x85\ud800",
        summary="Dòng\tmột\nhai",
        guid="g\x00uid",
        url="https://so.gov.vn/a",
    )
    assert article.title == "Tin [31mđỏ một"
    assert article.summary == "Dòng một hai"
    assert article.guid == "guid"
    assert Flag.TRUNCATED not in article.flags


def test_long_fields_are_capped_and_flagged() -> None:
    """A 30,000,000-character title is cut (at a word) and the article flagged."""
    article = must(
        title="Tiêu đề " * 3_750_000, summary="Tóm tắt " * 5_000, url="https://so.gov.vn/a"
    )
    assert len(article.title) <= 1_000 and article.title.endswith("…")
    assert len(article.summary) <= 5_000
    assert Flag.TRUNCATED in article.flags


def test_unsafe_class_is_the_unsafe_table() -> None:
    """The quick search for unsafe characters finds exactly the characters scrub() removes."""
    from syndicator.sources.normalise import _UNSAFE, _UNSAFE_FOUND

    for code in range(0x30000):
        assert (_UNSAFE_FOUND.fullmatch(chr(code)) is not None) == (code in _UNSAFE), hex(code)
