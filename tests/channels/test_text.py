"""Table tests for the truncation and hashtag helpers."""

from __future__ import annotations

import unicodedata

import pytest

from channels.text import graphemes, hashtag, strip_diacritics, truncate

NFD = unicodedata.normalize("NFD", "Quyết định phê duyệt quy hoạch")


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Ngắn gọn", 20, "Ngắn gọn"),  # under the limit: unchanged
        ("Đúng mười", 9, "Đúng mười"),  # exactly the limit: unchanged, no ellipsis
        ("Quyết định phê duyệt quy hoạch", 15, "Quyết định phê…"),  # ends on a word boundary
        ("Quyết định phê duyệt quy hoạch", 14, "Quyết định…"),  # cut at the last space
        ("Quyết định phê duyệt quy hoạch", 16, "Quyết định phê…"),  # never a partial word
        ("Kế hoạch, nhiệm vụ năm", 10, "Kế hoạch…"),  # trailing comma dropped
        ("Siêudàikhôngcókhoảngtrắng", 8, "Siêudài…"),  # one long word: hard cut
        (NFD, 15, "Quyết định phê…"),  # NFD input comes out NFC
        ("a b", 1, "…"),  # no room for text
        ("abc", 0, ""),
    ],
)
def test_truncate_table(text: str, limit: int, expected: str) -> None:
    """Each row's text is cut to the expected string."""
    result = truncate(text, limit)
    assert result == expected
    assert len(result) <= limit


def test_truncate_never_splits_combining_marks() -> None:
    """A letter with marks that has no precomposed form stays whole even in a hard cut."""
    # "ệ" + an extra combining dot below has no single code point, so NFC keeps 2 code points.
    word = "x" * 5 + "e\u0323\u0302\u0323" + "y" * 5
    whole = graphemes(unicodedata.normalize("NFC", word))
    for limit in range(2, len(word)):
        result = truncate(word, limit)
        assert len(result) <= limit
        body = graphemes(result.removesuffix("…"))
        assert body == whole[: len(body)]


def test_truncate_counts_the_ellipsis() -> None:
    """The ellipsis is part of the budget, so the result is exactly at most the limit."""
    text = "Thông báo " * 40
    for limit in (10, 50, 150, 300):
        assert len(truncate(text, limit)) <= limit
        assert truncate(text, limit).endswith("…")


def test_graphemes_keep_emoji_sequences() -> None:
    """Skin tones and zero-width-joiner sequences are one grapheme each."""
    assert graphemes("a👍🏽b👨\u200d👩c") == ["a", "👍🏽", "b", "👨\u200d👩", "c"]


@pytest.mark.parametrize(
    ("phrase", "tag"),
    [
        ("Thông tin chỉ đạo, điều hành", "#ThongTinChiDaoDieuHanh"),
        ("đấu_thầu mua sắm", "#DauThauMuaSam"),
        ("Hỏi – Đáp", "#HoiDap"),
    ],
)
def test_hashtag_table(phrase: str, tag: str) -> None:
    """Hashtags drop diacritics (đ included) and punctuation, and capitalise each word."""
    assert hashtag(phrase) == tag


def test_strip_diacritics_handles_d_bar() -> None:
    """đ and Đ have no decomposition and are mapped explicitly."""
    assert strip_diacritics("Đường điện") == "Duong dien"
