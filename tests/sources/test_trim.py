"""Splitting a feed into items so only new or edited items are parsed again."""

from __future__ import annotations

from syndicator.sources.trim import all_hashes, split_items, trim

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<item><title>A</title><link>https://x/a</link></item>\n"
    b"<!-- c --> <item><title>B</title><link>https://x/b</link></item>"
    b"</channel></rss>"
)


def test_split_and_trim_keep_header_footer_and_new_items() -> None:
    """Known items are dropped; the header, the footer and unknown items stay byte for byte."""
    header, items, footer = split_items(FEED)  # type: ignore[misc]
    assert header.endswith(b"<title>T</title>") and footer == b"</channel></rss>"
    assert len(items) == 2
    known = {all_hashes(FEED)[0]}
    result = trim(FEED, known)
    assert result is not None
    body, hashes = result
    assert b"<title>A</title>" not in body and b"<title>B</title>" in body
    assert body.startswith(header) and body.endswith(footer) and len(hashes) == 2


def test_no_trim_when_in_doubt() -> None:
    """Text between items, UTF-16, no items or nothing known: the whole document is parsed."""
    odd = FEED.replace(b"<!-- c -->", b"<junk/>")
    assert split_items(odd) is None
    assert split_items("<rss><item>a</item></rss>".encode("utf-16")) is None
    assert split_items(b"<rss><channel/></rss>") is None
    assert trim(FEED, set()) is None


def test_atom_entries_split() -> None:
    """Atom <entry> elements split like RSS items; <entryway> is not an entry."""
    atom = b"<feed><title>x</title><entry><id>1</id></entry><entry><id>2</id></entry></feed>"
    assert len(split_items(atom)[1]) == 2  # type: ignore[index]
    assert split_items(b"<feed><entryway>1</entryway></feed>") is None


def test_item_spans_find_what_the_item_pattern_finds() -> None:
    """item_spans (a start-tag pattern, then bytes.find for the end tag) finds exactly the
    spans of the pattern it replaced, rb"<(item|entry)(?=[\\s>/])[^>]*>.*?</\\1\\s*>" (re.S),
    on every stored feed (real, golden and hostile ones) and on 3,000 random runs of the
    tokens where the two could part: unclosed, self-closed and mixed tags, near-miss end
    tags, whitespace before ">"."""
    import random
    import re
    from pathlib import Path

    from syndicator.sources.trim import item_spans

    pattern = re.compile(rb"<(item|entry)(?=[\s>/])[^>]*>.*?</\1\s*>", re.S)

    def reference(body: bytes) -> list[tuple[int, int]]:
        return [m.span() for m in pattern.finditer(body)]

    data = Path(__file__).resolve().parents[1] / "data"
    files = [p for p in data.rglob("*") if p.is_file() and p.suffix in {".xml", ".rss", ".atom"}]
    assert len(files) >= 10
    for path in files:
        body = path.read_bytes()
        assert item_spans(body) == reference(body), path
    tokens = [
        b"<item>", b"<item a='1'>", b"<item/>", b"<items>", b"</item>", b"</item >",
        b"</item\n>", b"</items>", b"</item", b"<entry>", b"</entry>", b"<entry/>", b"<itemx>",
        b"<", b">", b"/", b" ", b"\n", b"x", b"<title>t</title>", b"<![CDATA[</item>]]>",
    ]  # fmt: skip
    rng = random.Random(11)
    for _ in range(3000):
        body = b"".join(rng.choice(tokens) for _ in range(rng.randint(0, 30)))
        assert item_spans(body) == reference(body), body
