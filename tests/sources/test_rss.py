"""parse_feed on the fixture pitfalls: broken XML, encodings, links, images, safety."""

from __future__ import annotations

import time
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.sources.rss import parse_feed

FEEDS = Path(__file__).resolve().parent.parent / "data" / "feeds"
URL = "https://example-province.gov.vn/rss/tin-tuc.rss"
NOW = datetime(2025, 11, 14, 3, 0, tzinfo=UTC)


def parse(name: str, headers: dict[str, str] | None = None, url: str = URL):
    """Parse one fixture file."""
    return parse_feed((FEEDS / name).read_bytes(), headers or {}, url)


def test_vnexpress_titles_links_and_ad_item() -> None:
    """Newline-wrapped titles and links are trimmed; the empty ad item is skipped."""
    result = parse("vnexpress_tin-moi-nhat_2017-11-14.xml")
    assert result.error is None
    assert len(result.entries) == 24  # 25 items, one ad with no title and no link
    first = result.entries[0]
    assert first.title == "Con hẻm trăm tuổi ở Sài Gòn nhiều lần lên phim TVB 4"
    assert first.url == first.guid
    assert first.url is not None and first.url.startswith("https://dulich.vnexpress.net/")
    assert first.published == "Tue, 14 Nov 2017 17:42:01 +0700"
    assert first.image is not None and first.image.endswith("_180x108.jpg")


def test_browser_banner_is_stripped() -> None:
    """Text before <rss> is removed and noted; the entries equal the clean file's."""
    clean = parse("vnexpress_tin-moi-nhat_2017-11-14.xml")
    banner = parse("vnexpress_tin-moi-nhat_2017-11-14_with_browser_banner.xml")
    assert banner.entries == clean.entries
    assert banner.error == "removed text before the XML"


def test_junk_is_stripped_when_nothing_else_parses() -> None:
    """A document with text before <?xml still gives its entries."""
    body = b"Warning: include(): failed\n<?xml version='1.0'?><rss><channel><item>"
    body += b"<title>T</title><link>https://x.gov.vn/a</link></item></channel></rss>"
    result = parse_feed(body, {}, URL)
    assert [e.url for e in result.entries] == ["https://x.gov.vn/a"]


def test_raw_ampersand_in_enclosure() -> None:
    """The 2025 VnExpress feed's bare '&' is escaped; the enclosure becomes the image."""
    result = parse("vnexpress_the-gioi_2025-02-06_2golang.xml")
    assert result.error == "escaped bare '&'"
    (entry,) = result.entries
    assert entry.image is not None and "?w=1200&h=0&q=100&dpr=1" in entry.image


def test_raw_ampersand_in_link() -> None:
    """A bare '&' in an .aspx link is kept as a plain '&' in the recovered URL."""
    result = parse("gov_feed_unescaped_ampersand.xml")
    assert len(result.entries) == 9
    assert result.entries[0].url == (
        "https://example-province.gov.vn/Pages/tin-tuc/chi-tiet.aspx?ItemID=101&CatID=5"
    )


def test_escaped_ampersand_in_link() -> None:
    """'&amp;' in a link comes back as '&', not '&b;' (feedparser regression fixture)."""
    result = parse("illformed__rss_item_link_corrupted_ampersands.xml")
    assert result.entries[0].url == "http://link/get?a=1&b=2"
    assert result.error is not None  # the document is truncated


@pytest.mark.parametrize(
    "name", ["gov_feed_windows-1258.xml", "gov_feed_utf8_nfd.xml", "gov_feed_tcvn3_mojibake.xml"]
)
def test_encodings_decode(name: str) -> None:
    """cp1258 and NFD feeds decode to text equal to the NFC original once normalised."""
    result = parse(name)
    assert result.error is None and len(result.entries) == 3
    title = result.entries[2].title or ""
    assert unicodedata.normalize("NFC", title) == (
        "Đắk Lắk: Hội nghị triển khai mô hình chính quyền địa phương hai cấp"
    )


def test_relative_link_resolved_against_feed_url() -> None:
    """A relative <link> is made absolute against the document URL."""
    result = parse("gov_feed_messy_dates_links.xml", url="https://soyte.x.gov.vn/rss/a.rss")
    assert result.entries[0].url == "https://soyte.x.gov.vn/Pages/tin-tuc/chi-tiet.aspx?ItemID=101"
    assert result.entries[5].guid == result.entries[5].url  # no guid: the link stands in


def test_relative_link_resolved_against_content_location() -> None:
    """A (relative) Content-Location header becomes the base for relative links."""
    body = b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>T</title>'
    body += b'<link rel="alternate" href="bai-1.html"/></entry></feed>'
    result = parse_feed(body, {"Content-Location": "/tin-tuc/"}, "https://x.gov.vn/rss")
    assert result.entries[0].url == "https://x.gov.vn/tin-tuc/bai-1.html"


def test_media_and_content_images() -> None:
    """media:thumbnail is a lead image; otherwise the first <img> of the content is."""
    body = b"""<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
    <item><title>A</title><link>https://x.gov.vn/a</link>
      <media:thumbnail url="https://x.gov.vn/thumb.jpg"/></item>
    <item><title>B</title><link>https://x.gov.vn/b</link>
      <description>&lt;p&gt;x &lt;img src="/anh/b.png"&gt;&lt;/p&gt;</description></item>
    <item><title>C</title><link>https://x.gov.vn/c</link>
      <enclosure url="https://x.gov.vn/c.mp3" type="audio/mpeg" length="1"/></item>
    </channel></rss>"""
    result = parse_feed(body, {"Content-Type": "application/rss+xml"}, "https://x.gov.vn/rss")
    assert [e.image for e in result.entries] == [
        "https://x.gov.vn/thumb.jpg",
        "https://x.gov.vn/anh/b.png",
        None,
    ]


def test_categories_and_content() -> None:
    """<category> terms and content:encoded are carried into the entry."""
    body = b"""<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
    <channel><item><title>A</title><link>https://x.gov.vn/a</link>
    <category>V\xc4\x83n b\xe1\xba\xa3n</category><description>Sapo</description>
    <content:encoded><![CDATA[<p>Full body</p>]]></content:encoded></item></channel></rss>"""
    (entry,) = parse_feed(body, {}, URL).entries
    assert entry.categories == ("Văn bản",)
    assert entry.summary == "Sapo" and entry.content == "<p>Full body</p>"


def test_incomplete_cdata_does_not_hang() -> None:
    """An unterminated CDATA block returns quickly with an error."""
    started = time.monotonic()
    result = parse("illformed__rss_incomplete_cdata.xml")
    assert time.monotonic() - started < 2
    assert result.error is not None and result.entries == ()


@pytest.mark.parametrize(
    "name",
    [
        "encoding__bozo_invalid-bytes-with-bom.xml",
        "illformed__aaa_illformed.xml",
        "illformed__undeclared_namespace.xml",
        "encoding__bozo_double-encoded-html.xml",
    ],
)
def test_broken_documents_report_an_error(name: str) -> None:
    """Broken documents give an error text instead of raising."""
    assert parse(name).error


@pytest.mark.parametrize("body", [b"", b"\x00\xff\xfe garbage", b"{}", b"<html><body>404</body>"])
def test_non_feeds_do_not_raise(body: bytes) -> None:
    """Anything at all yields a ParseResult, never an exception."""
    assert parse_feed(body, {}, URL).entries == ()


def test_wrong_content_type_is_not_an_error() -> None:
    """A feed served as text/html parses without an error (servers often say so)."""
    result = parse("gov_feed_utf8_nfd.xml", headers={"Content-Type": "text/html; charset=utf-8"})
    assert result.error is None and len(result.entries) == 3


def test_http_charset_header_is_used() -> None:
    """The charset of the Content-Type header decides the decoding (feedparser fixture)."""
    result = parse(
        "encoding__http_text_xml_charset_overrides_encoding.xml",
        headers={"Content-type": "text/xml;charset = us-ascii"},
    )
    assert result.error is None


def test_internal_entity_is_expanded() -> None:
    """A simple internal DTD entity is expanded (feedparser's entity_in_doctype case)."""
    body = (FEEDS / "wellformed__rss__entity_in_doctype.xml").read_bytes()
    body = body.replace(b"<item>", b"<item><title>&id;tieu-de</title>")
    (entry,) = parse_feed(body, {}, URL).entries
    assert entry.guid == "tag:example.com,2006-05-04:/blog/"
    assert entry.title == "tag:example.com,tieu-de"


def test_no_external_entities() -> None:
    """An external entity (XXE) is not fetched or read from disk."""
    body = b"""<?xml version="1.0"?>
    <!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
    <rss version="2.0"><channel><item><title>A &xxe; B</title>
    <link>https://x.gov.vn/a</link></item></channel></rss>"""
    result = parse_feed(body, {}, URL)
    assert all("root:" not in (e.title or "") for e in result.entries)


def test_no_billion_laughs() -> None:
    """Nested entity expansion is refused, quickly and without blowing up memory."""
    lol = b'<!ENTITY lol "lol">'
    for i in range(1, 10):
        refs = f"&lol{i - 1 if i > 1 else ''};".encode() * 10
        lol += b'<!ENTITY lol%d "%s">' % (i, refs)
    body = b'<?xml version="1.0"?><!DOCTYPE rss [' + lol + b"]>"
    body += b"<rss><channel><item><title>&lol9;</title><link>https://x.gov.vn/a</link>"
    body += b"</item></channel></rss>"
    started = time.monotonic()
    result = parse_feed(body, {}, URL)
    # One line on purpose: feedparser alone misses declarations that do not start a line.
    assert b"\n" not in body
    assert time.monotonic() - started < 0.5
    assert all("lollol" not in (e.title or "") for e in result.entries)


def test_lt_inside_first_entity_value_is_refused() -> None:
    """A "<" in the first entity value used to end the checked prolog early (issue 10)."""
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "<b>"><!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><rss version="2.0"><channel><item>'
        b"<title>&lol2;</title><link>https://x.gov.vn/a</link></item></channel></rss>"
    )
    result = parse_feed(body, {}, URL)
    assert result.entries == ()
    assert result.error is not None and result.error.startswith("refused: entity 'a'")


def test_many_references_to_a_simple_entity_are_refused() -> None:
    """A literal entity referenced thousands of times is an expansion bomb too."""
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"x" * 200 + b'">]>'
        b'<rss version="2.0"><channel><item><title>' + b"&a;" * 5000 + b"</title>"
        b"<link>https://x.gov.vn/a</link></item></channel></rss>"
    )
    result = parse_feed(body, {}, URL)
    assert result.entries == () and "entity-expansion bomb" in (result.error or "")


def test_external_dtd_alone_is_left_as_it_is() -> None:
    """RSS 0.91's public DTD (no internal subset) parses as before; nothing is fetched."""
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel>'
        b"<item><title>T</title><link>https://x.gov.vn/a</link></item></channel></rss>"
    )
    result = parse_feed(body, {}, URL)
    assert [e.title for e in result.entries] == ["T"]


def test_plain_text_title_keeps_angle_brackets() -> None:
    """A title feedparser reports as text/plain keeps "<Kinh tế số>" (issue 9, point 11)."""
    from syndicator.sources.normalise import normalise

    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><item>'
        "<title>Hội nghị &quot;Chuyển đổi số&quot; &amp; &lt;Kinh tế số&gt; năm 2026</title>"
        "<link>https://x.gov.vn/a</link></item></channel></rss>"
    ).encode()
    (entry,) = parse_feed(body, {}, URL).entries
    article = normalise(entry, source_id="s", agency="A", feed_url=URL, now=NOW)
    assert article is not None
    assert article.title == 'Hội nghị "Chuyển đổi số" & <Kinh tế số> năm 2026'


def test_html_page_without_feed_links_says_so() -> None:
    """An HTML page that advertises no feed: the error says what to look for."""
    body = b"<!DOCTYPE html><html><head><title>x</title></head><body>x</body></html>"
    result = parse_feed(body, {"Content-Type": "text/html"}, URL)
    assert result.entries == ()
    assert result.error is not None and "advertises no RSS or Atom feed" in result.error
