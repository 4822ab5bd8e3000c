"""Golden files: every feed fixture still parses, normalises and classifies as reviewed."""

from __future__ import annotations

import json

import pytest

# pythonpath = ["."] in pyproject makes the repository root importable.
from tests.sources.regen_golden import GOLDEN, build_golden, feed_names, golden_text


@pytest.mark.parametrize("name", feed_names())
def test_golden(name: str) -> None:
    """The output for this feed equals its golden file (regenerate with regen_golden.py)."""
    expected = (GOLDEN / name.replace(".xml", ".json")).read_text(encoding="utf-8")
    assert golden_text(name) == expected


def test_every_feed_has_a_golden_file() -> None:
    """No golden file is missing or left over."""
    goldens = sorted(p.name.replace(".json", ".xml") for p in GOLDEN.glob("*.json"))
    assert goldens == feed_names()


def test_dedup_trap_pair_shares_identity() -> None:
    """The NFC/NFD + utm_source pair has equal canonical URL and fingerprint, distinct guids."""
    first, second = build_golden("gov_feed_utf8_nfc_nfd_duplicate.xml")["articles"]
    assert first["canonical_url"] == second["canonical_url"]
    assert first["fingerprint"] == second["fingerprint"]
    assert first["guid"] != second["guid"]


def test_same_story_in_every_encoding() -> None:
    """cp1258, NFD and TCVN3 versions of the same items normalise to identical text."""
    reference = build_golden("gov_feed_utf8_nfd.xml")["articles"]
    for name in ("gov_feed_windows-1258.xml", "gov_feed_tcvn3_mojibake.xml"):
        articles = build_golden(name)["articles"]
        assert [a["title"] for a in articles] == [a["title"] for a in reference]
        assert [a["fingerprint"] for a in articles] == [a["fingerprint"] for a in reference]


def test_golden_articles_are_sane() -> None:
    """Every golden article has NFC text, an absolute https/http URL and a UTC time or NO_DATE."""
    import unicodedata

    for path in GOLDEN.glob("*.json"):
        for article in json.loads(path.read_text(encoding="utf-8"))["articles"]:
            for field in ("title", "summary", "content_text", "content_html"):
                assert unicodedata.is_normalized("NFC", article[field]), (path.name, field)
            assert article["url"].startswith(("https://", "http://"))
            assert article["canonical_url"].startswith("https://")
            published = article["published_at"]
            assert (published is None) == ("no_date" in article["flags"])
            assert published is None or published.endswith("+00:00")
