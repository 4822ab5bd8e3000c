"""Regenerate the golden files: each feed in tests/data/feeds/ next to its expected articles.

Run from the repository root after a deliberate change, then review the diff by eye:
    .venv/bin/python tests/sources/regen_golden.py
tests/sources/test_golden.py checks that the current code still produces these files.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syndicator.sources.classify import ClassifierRules, classify
from syndicator.sources.normalise import normalise
from syndicator.sources.rss import parse_feed
from syndicator.types import Article

DATA = Path(__file__).resolve().parent.parent / "data"
FEEDS = DATA / "feeds"
GOLDEN = DATA / "golden"
NOW = datetime(2025, 11, 15, 0, 0, tzinfo=UTC)
AGENCY = "Cổng thông tin điện tử tỉnh (mẫu)"
# The feedparser test harness serves its files from here; their expectations assume it.
FEEDPARSER_HOST = "http://127.0.0.1:8097/tests/"
_HEADER_LINE = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)


def feed_names() -> list[str]:
    """Every feed fixture, by file name."""
    return sorted(p.name for p in FEEDS.glob("*.xml"))


def feed_url(name: str) -> str:
    """The URL each fixture is taken to come from (relative links resolve against it)."""
    if name.startswith(("encoding__", "illformed__", "wellformed__")):
        return FEEDPARSER_HOST + name.replace("__", "/")
    if name.startswith("vnexpress_"):
        return "https://vnexpress.net/rss/tin-moi-nhat.rss"
    if name in ("gov_feed_messy_dates_links.xml", "gov_feed_unescaped_ampersand.xml"):
        return "https://soyte.example-province.gov.vn/rss/tin-tuc.rss"
    return "https://example-province.gov.vn/rss/tin-tuc.rss"


def fixture_headers(body: bytes) -> dict[str, str]:
    """HTTP response headers a feedparser fixture declares in its leading comment."""
    comment_end = body.find(b"-->")
    head = body[:comment_end] if comment_end >= 0 else b""
    return {k.decode(): v.decode("latin-1") for k, v in _HEADER_LINE.findall(head)}


def article_dict(article: Article) -> dict[str, Any]:
    """The JSON form of an article as stored in a golden file."""
    return {
        "guid": article.guid,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "summary": article.summary,
        "content_html": article.content_html,
        "content_text": article.content_text,
        "image_url": article.image_url,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "source_categories": list(article.source_categories),
        "categories": list(article.categories),
        "flags": sorted(str(f) for f in article.flags),
        "secrecy_marker": article.secrecy_marker,
        "content_hash": article.content_hash,
        "fingerprint": article.fingerprint,
    }


def build_golden(name: str) -> dict[str, Any]:
    """Parse, normalise and classify one fixture into its golden form."""
    body = (FEEDS / name).read_bytes()
    url = feed_url(name)
    headers = fixture_headers(body)
    result = parse_feed(body, headers, url)
    rules = ClassifierRules.defaults()
    articles = []
    for entry in result.entries:
        article = normalise(
            entry,
            source_id=name.removesuffix(".xml"),
            agency=AGENCY,
            feed_url=url,
            now=NOW,
            markers=rules.secrecy_markers,
        )
        if article is not None:
            articles.append(article_dict(classify(article, rules)))
    return {
        "feed": name,
        "url": url,
        "headers": headers,
        "entries": len(result.entries),
        "error": result.error,
        "articles": articles,
    }


def golden_text(name: str) -> str:
    """The exact text of a golden file."""
    return json.dumps(build_golden(name), ensure_ascii=False, indent=2) + "\n"


def main() -> int:
    """Write every golden file."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in feed_names():
        target = GOLDEN / name.replace(".xml", ".json")
        target.write_text(golden_text(name), encoding="utf-8")
        print(f"wrote {target.relative_to(DATA.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
