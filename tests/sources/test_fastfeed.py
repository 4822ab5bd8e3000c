"""fastfeed.py against feedparser: every fixture and generated variation parses to the same
ParseResult both ways, or the fast path declines it."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Mapping

import pytest

from syndicator.sources.fastfeed import parse_fast
from syndicator.sources.rss import parse_feed
from tests.sources.regen_golden import FEEDS, feed_names, feed_url, fixture_headers

URL = "https://sotttt.example.gov.vn/rss/tin-moi.rss"


def _both(body: bytes, headers: Mapping[str, str], url: str = URL) -> bool:
    """Assert both parsers agree; True when the fast path took the document."""
    fast = parse_feed(body, headers, url)
    slow = parse_feed(body, headers, url, fast=False)
    assert fast == slow
    lowered = {k.lower(): v for k, v in headers.items()}
    return parse_fast(body, {**lowered, "content-location": url}) is not None


@pytest.mark.parametrize("name", feed_names())
def test_every_fixture_same_both_ways(name: str) -> None:
    """Each feed fixture under tests/data/feeds gives the same ParseResult with and without
    the fast path."""
    body = (FEEDS / name).read_bytes()
    _both(body, fixture_headers(body), feed_url(name))


def test_fast_path_takes_the_plain_fixtures() -> None:
    """The plain RSS 2.0 fixtures (not the broken or DTD ones) go through the fast path."""
    taken = set()
    for name in feed_names():
        body = (FEEDS / name).read_bytes()
        if _both(body, fixture_headers(body), feed_url(name)):
            taken.add(name)
    assert {
        "gov_feed_messy_dates_links.xml",
        "gov_feed_utf8_nfd.xml",
        "gov_feed_windows-1258.xml",
        "gov_feed_title_text_plain.xml",
        "vnexpress_tin-moi-nhat_2017-11-14.xml",
    } <= taken
    assert "wellformed__rss__entity_in_doctype.xml" not in taken  # a DTD: never fast
    assert "vnexpress_the-gioi_2025-02-06_2golang.xml" not in taken  # broken: repaired slowly


# --- generated variations ---------------------------------------------------------------------

VI = "Quyết định phê duyệt quy hoạch sử dụng đất huyện Đồng Hỷ"
NFD = unicodedata.normalize("NFD", VI)
DATES = [
    "<pubDate>Fri, 14 Nov 2025 08:30:00 +0700</pubDate>",
    "<pubDate>Fri, 14 Nov 2025 08:30:00 GMT</pubDate>",
    "<pubDate>14/11/2025 08:30</pubDate>",
    "<pubDate>11/14/2025 8:30:00 AM</pubDate>",
    "<pubDate>Thứ Sáu, 14/11/2025 - 08:30</pubDate>",
    "<pubDate>2025-11-14T08:30:00+07:00</pubDate>",
    "<pubDate>0001-01-01T00:00:00</pubDate>",
    "<pubDate>  </pubDate>",
    "<dc:date>2025-11-14T08:30:00+07:00</dc:date>",
    "<pubDate>Fri, 14 Nov 2025 08:30:00 +0700</pubDate><dc:date>2025-11-13</dc:date>",
    "",
]
TITLES = [
    f"<title>{VI}</title>",
    f"<title>{NFD}</title>",
    f"<title>\n   {VI}  \n</title>",
    "<title>Hội nghị &lt;Kinh tế số&gt; 2025</title>",
    "<title>A &amp; B &lt;b&gt;đậm&lt;/b&gt;</title>",
    "<title><![CDATA[Tin <b>mới</b> &amp; nóng]]></title>",
    "<title>&#7871; &#x1EBF; &#150; &#8211; tr&#7909;</title>",
    "<title>Ã©tÃ© mojibake</title>",
    "<title>Tin <!-- a comment --> số <?pi data?>một</title>",
    "<title/>",
    "<title>Lưu hành nội bộ: MẬT</title>",
    "",
]
LINKS = [
    "<link>https://so.example.gov.vn/tin/1.html</link>",
    "<link>/tin/2.html</link>",
    "<link>\n  https://so.example.gov.vn/a.aspx?id=1&amp;cat=2 \n</link>",
    "<link>https://so.example.gov.vn/a.aspx?id=1&amp;amp;cat=2</link>",
    "<link>tin/3.html?a=1&amp;b=2&amp;c;=3</link>",
    "<link></link>",
    "<link>javascript:alert(1)</link>",
    "",
]
GUIDS = [
    "<guid>https://so.example.gov.vn/tin/1.html</guid>",
    '<guid isPermaLink="false">so-123</guid>',
    '<guid isPermaLink="true">/tin/rel.html</guid>',
    '<guid isPermaLink="True">/tin/upper.html</guid>',
    "<guid>so-456</guid>",
    "<guid></guid>",
    "",
]
BODIES = [
    '<description><![CDATA[<p>Nội dung <img src="/anh/1.jpg"> đây</p>]]></description>',
    "<description>&lt;p&gt;Tóm tắt &amp;amp; thêm&lt;/p&gt;</description>",
    f"<description>{NFD} chỉ là chữ</description>",
    "<description>Giá &lt; 5 triệu &amp; hơn</description>",
    "<description/>",
    "<content:encoded><![CDATA[<p>Toàn văn</p><img src='/b.png'>]]></content:encoded>",
    "<description>Tóm tắt</description>"
    "<content:encoded><![CDATA[<p>Toàn văn</p>]]></content:encoded>",
    "<content:encoded><![CDATA[<p>Toàn văn</p>]]></content:encoded>"
    "<description>Tóm tắt sau</description>",
    "<content:encoded><![CDATA[<p>A</p>]]></content:encoded>"
    "<content:encoded><![CDATA[<p>B</p>]]></content:encoded>",
    "",
]
EXTRAS = [
    '<enclosure url="https://so.example.gov.vn/a.jpg" type="image/jpeg" length="1"/>',
    '<enclosure url="/rel.jpg" type="IMAGE/PNG"/>',
    '<enclosure url="https://so.example.gov.vn/a.mp3" type="audio/mpeg"/>',
    '<enclosure uri="https://so.example.gov.vn/u.jpg" type="image/jpeg"/>',
    '<enclosure url="" type="image/jpeg"/>',
    '<media:content url="https://so.example.gov.vn/m.jpg" type="image/jpeg"/>',
    '<media:content url="https://so.example.gov.vn/m.mp4" medium="video"/>',
    '<media:content url="https://so.example.gov.vn/m2.jpg"/>',
    '<media:thumbnail url="https://so.example.gov.vn/t.jpg"/>',
    "<category>Tin tức</category>",
    '<category domain="https://so.example.gov.vn/">Thông báo</category>',
    "<category>Tin tức</category><category>Tin tức</category>",
    '<category domain="x">A</category><category domain="y">A</category>',
    '<category domain="x"/><category>Sau</category>',
    '<category term="Đầu tư"/>',
    "<category>  </category>",
    "<author>bbt@so.example.gov.vn (Ban biên tập)</author>",
    "<dc:creator>Phòng Văn hoá</dc:creator>",
    "<comments>https://so.example.gov.vn/c/1</comments>",
    "<slash:comments>3</slash:comments>",
    # declined by the fast path (must still give feedparser's result):
    '<media:content url="https://so.example.gov.vn/g.jpg"><media:title>T</media:title>'
    "</media:content>",
    '<media:thumbnail url="">https://so.example.gov.vn/text.jpg</media:thumbnail>',
    "<source url='https://other.example/rss'>Nguồn khác</source>",
    '<link xml:base="https://other.example/">x.html</link>',
    "<description><p>inline</p></description>",
    "<title>Hai</title>",
    '<title type="html">&lt;b&gt;x&lt;/b&gt;</title>',
    "<itunes:duration>3</itunes:duration>",
    "",
]
NS = (
    ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
    ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'
    ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
)
MEDIA = [
    ' xmlns:media="http://search.yahoo.com/mrss/"',
    ' xmlns:media="http://search.yahoo.com/mrss"',
    ' xmlns:media="HTTP://SEARCH.YAHOO.COM/MRSS/"',
]
HEADS = [
    "",
    '<atom:link href="https://so.example.gov.vn/rss" rel="self" type="application/rss+xml"/>',
    "<language>vi</language><ttl>15</ttl><lastBuildDate>Fri, 14 Nov 2025</lastBuildDate>",
    "<image><url>https://so.example.gov.vn/logo.png</url><title>Logo</title>"
    "<link>https://so.example.gov.vn/</link></image>",
    "<textInput><title>t</title><link>x</link></textInput>",
]


def _item(rng: random.Random) -> str:
    parts = [
        rng.choice(TITLES),
        rng.choice(LINKS),
        rng.choice(GUIDS),
        rng.choice(DATES),
        rng.choice(BODIES),
        *rng.sample(EXTRAS, rng.randint(0, 3)),
    ]
    rng.shuffle(parts)
    return "<item>" + "".join(parts) + "</item>"


def _document(rng: random.Random) -> tuple[bytes, dict[str, str]]:
    items = "".join(_item(rng) for _ in range(rng.randint(0, 4)))
    ns = NS + rng.choice(MEDIA) + ' xmlns:atom="http://www.w3.org/2005/Atom"'
    channel = f"<channel><title>Sở TT&amp;TT</title>{rng.choice(HEADS)}{items}</channel>"
    text = f'<rss version="2.0"{ns}>{channel}</rss>'
    encoding = rng.choice(["utf-8", "utf-8-bom", "windows-1258", "none", "http-charset"])
    headers: dict[str, str] = {"Content-Type": "application/rss+xml"}
    if encoding == "windows-1258":
        body = ('<?xml version="1.0" encoding="windows-1258"?>' + text).encode(
            "windows-1258", "xmlcharrefreplace"
        )
    elif encoding == "utf-8-bom":
        body = b"\xef\xbb\xbf" + ('<?xml version="1.0" encoding="utf-8"?>' + text).encode()
    elif encoding == "http-charset":
        body = text.encode()
        headers["Content-Type"] = "text/xml; charset=utf-8"
    elif encoding == "none":
        body = text.encode()
    else:
        body = ('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode()
    return body, headers


def test_generated_variations_same_both_ways() -> None:
    """600 random documents built from the fixtures' shapes (dates, NFC/NFD, entities, CDATA,
    enclosures, media, dc:date, content:encoded, categories, missing fields, encodings) parse
    identically both ways, and most of them take the fast path."""
    rng = random.Random(20261202)
    taken = 0
    for _ in range(600):
        body, headers = _document(rng)
        try:
            taken += _both(body, headers)
        except AssertionError:
            print(body.decode("utf-8", "replace"), headers)
            raise
    assert taken >= 150


def test_declines_what_it_does_not_map() -> None:
    """Atom 0.3, inline XHTML, xml:base, RSS 0.91/1.0, a DOCTYPE, a broken document and unknown elements are left to
    feedparser (parse_fast returns None)."""
    headers = {"content-location": URL}
    item = "<item><title>T</title><link>https://a.example/1</link></item>"
    declined = [
        b'<feed xmlns="http://purl.org/atom/ns#" version="0.3"><title>x</title></feed>',
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="xhtml">'
        b'<div xmlns="http://www.w3.org/1999/xhtml">x</div></title></entry></feed>',
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://b.example/"><entry>'
        b'<link href="x.html"/></entry></feed>',
        f'<rss version="0.91"><channel>{item}</channel></rss>'.encode(),
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        b' xmlns="http://purl.org/rss/1.0/"><item><title>x</title></item></rdf:RDF>',
        f'<!DOCTYPE rss [<!ENTITY a "b">]><rss version="2.0"><channel>{item}</channel></rss>'.encode(),
        f'<rss version="2.0"><channel>{item}</channel>'.encode(),
        f'<rss version="2.0"><channel>{item[:-7]}<foo>x</foo></item></channel></rss>'.encode(),
        f'<rss version="2.0"><channel xml:base="https://b.example/">{item}</channel></rss>'.encode(),
        f'<rss version="2.0"><channel>{item}</channel><channel/></rss>'.encode(),
    ]
    for body in declined:
        assert parse_fast(body, headers) is None, body
        _both(body, {})
    plain = f'<rss version="2.0"><channel>{item}</channel></rss>'.encode()
    assert parse_fast(plain, headers) is not None


def test_bench_farm_documents_take_the_fast_path() -> None:
    """The benchmark farm's documents (the first poll measured in docs/benchmarks.md) are fast
    and equal."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from feedfarm import Farm

    farm = Farm(5, 20)
    for i in range(5):
        assert _both(farm.body(i)[0], {"Content-Type": "application/rss+xml"})


# --- Atom 1.0 ---------------------------------------------------------------------------------

ATOM_PARTS = {
    "title": [
        f"<title>{VI}</title>",
        f'<title type="text">{NFD} &lt;b&gt;</title>',
        "<title>Giá &lt; 5 triệu &amp; hơn</title>",
        '<title type="html">&lt;b&gt;Đậm&lt;/b&gt; &amp;amp; nhạt</title>',
        '<title type="text/html">&lt;i&gt;x&lt;/i&gt;</title>',
        "<title>Ã©tÃ© &#150;</title>",
        "<title/>",
        '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></title>',
        "",
    ],
    "id": [
        "<id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>",
        "<id>https://so.example.gov.vn/tin/1</id>",
        "<id>tin/2</id>",
        "<id></id>",
        "",
    ],
    "link": [
        '<link href="https://so.example.gov.vn/tin/1.html"/>',
        '<link rel="alternate" type="text/html" href="/tin/2.html"/>',
        '<link rel="ALTERNATE" type="TEXT/HTML" href="tin/3.html?a=1&amp;b=2"/>',
        '<link rel="self" href="https://so.example.gov.vn/self"/>',
        '<link rel="enclosure" type="image/jpeg" href="/anh/1.jpg" length="12"/>',
        '<link rel="related" href="https://khac.example/"/>',
        '<link href=""/>',
        '<link rel="alternate" type="application/pdf" href="/a.pdf"/>',
        '<link href="https://so.example.gov.vn/a"/><link href="https://so.example.gov.vn/b"/>',
        "<link>https://so.example.gov.vn/text-link</link>",
        "",
    ],
    "date": [
        "<published>2025-11-14T08:30:00+07:00</published>",
        "<updated>2025-11-14T01:30:00Z</updated>",
        "<published>14/11/2025 08:30</published><updated>2025-11-15T00:00:00Z</updated>",
        "<updated>Thứ Sáu, 14/11/2025 - 08:30</updated>",
        "",
    ],
    "body": [
        '<summary type="html">&lt;p&gt;Tóm tắt &lt;img src="/s.png"&gt;&lt;/p&gt;</summary>',
        "<summary>Chữ thường &lt;không phải thẻ&gt;</summary>",
        '<content type="html"><![CDATA[<p>Toàn văn</p><img src="c.jpg">]]></content>',
        "<content>Nội dung chữ</content>",
        '<summary>Tóm tắt</summary><content type="html">&lt;p&gt;Toàn&lt;/p&gt;</content>',
        '<content type="html">&lt;p&gt;Trước&lt;/p&gt;</content><summary>Sau</summary>',
        '<content src="https://so.example.gov.vn/full"/>',
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div></content>',
        "",
    ],
    "extra": [
        '<category term="Đầu tư" scheme="https://so.example.gov.vn/cat" label="ĐT"/>',
        '<category term="tin"/><category term="tin"/>',
        "<author><name>Ban biên tập</name><email>bbt@so.example.gov.vn</email></author>",
        '<media:content url="https://so.example.gov.vn/m.jpg" type="image/jpeg"/>',
        '<media:thumbnail url="https://so.example.gov.vn/t.jpg"/>',
        "<rights>© Sở</rights>",
        "<source><title>khác</title></source>",
        "",
    ],
}


def _atom_document(rng: random.Random) -> tuple[bytes, dict[str, str]]:
    entries = ""
    for _ in range(rng.randint(0, 4)):
        parts = [rng.choice(options) for options in ATOM_PARTS.values()]
        rng.shuffle(parts)
        lang = rng.choice(["", ' xml:lang="vi"'])
        entries += f"<entry{lang}>{''.join(parts)}</entry>"
    head = rng.choice(
        [
            "",
            '<link rel="self" href="https://so.example.gov.vn/atom"/>',
            "<author><name>Sở</name></author><updated>2025-11-14T00:00:00Z</updated>",
            "<subtitle>Tin</subtitle><icon>/i.png</icon>",
        ]
    )
    feed_lang = rng.choice(["", ' xml:lang="vi"'])
    text = (
        f'<feed xmlns="http://www.w3.org/2005/Atom"{rng.choice(MEDIA)}{feed_lang}>'
        f"<title>Sở TT&amp;TT</title><id>urn:so</id>{head}{entries}</feed>"
    )
    body = ('<?xml version="1.0" encoding="utf-8"?>\n' + text).encode()
    return body, {"Content-Type": rng.choice(["application/atom+xml", "text/xml"])}


def test_generated_atom_same_both_ways() -> None:
    """400 random Atom 1.0 documents (text constructs of every type, ids, links and rel,
    dates, summary/content in both orders, categories, people, media) parse identically both
    ways, and many of them take the fast path."""
    rng = random.Random(1202)
    taken = 0
    for _ in range(400):
        body, headers = _atom_document(rng)
        try:
            taken += _both(body, headers)
        except AssertionError:
            print(body.decode("utf-8", "replace"), headers)
            raise
    assert taken >= 60
