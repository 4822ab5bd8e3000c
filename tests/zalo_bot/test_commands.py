"""Typed Vietnamese commands and preview splitting: pure functions, tables of cases."""

from __future__ import annotations

import unicodedata

import pytest

from syndicator.approval.zalo_bot.commands import Command, parse
from syndicator.approval.zalo_bot.render import split_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("duyệt 12", Command("approve", 12)),
        ("DUYET 12 fb", Command("approve", 12, "facebook_page")),
        ("duyệt #12 Zalo", Command("approve", 12, "zalo_oa")),
        ("từ chối 12 trùng nội dung", Command("reject", 12, text="trùng nội dung")),
        ("Tu Choi 12", Command("reject", 12)),
        (
            "sửa 12 fb Dòng một\nDòng hai",
            Command("edit", 12, "facebook_page", "Dòng một\nDòng hai"),
        ),
        ("hẹn 12 15:30", Command("schedule", 12, text="15:30")),
        ("hen gio 12 15:30 24/11", Command("schedule", 12, text="15:30 24/11")),
        ("chờ", Command("waiting")),
        ("TRẠNG THÁI", Command("status")),
        ("giúp", Command("help")),
        ("/lienket abcd-efgh", Command("link", text="abcd-efgh")),
        ("liên kết ABCD-EFGH", Command("link", text="ABCD-EFGH")),
        ("duyệt 12 tiktok", Command("unknown", 12, text="duyệt 12 tiktok")),
        ("sửa 12 fb", Command("unknown", 12, "facebook_page", "sửa 12 fb")),
        ("duyệt", Command("unknown", text="duyệt")),
        # A take-down: "gỡ", or "go" typed without marks; never a word that only folds to it.
        ("gỡ 12 sai số liệu", Command("watch_takedown", 12, text="sai số liệu")),
        ("Gỡ bài #12 sai", Command("watch_takedown", 12, text="sai")),
        ("go 12 sai", Command("watch_takedown", 12, text="sai")),
        ("gõ 12 sai", Command("unknown", text="gõ 12 sai")),
        ("gọ 12", Command("unknown", text="gọ 12")),
        ("", Command("unknown", text="")),
    ],
)
def test_parse(text: str, expected: Command) -> None:
    """Each form parses with or without diacritics; free text keeps its marks and lines."""
    assert parse(text) == expected


def test_parse_decomposed_input() -> None:
    """NFD text from some keyboards parses like NFC."""
    assert parse(unicodedata.normalize("NFD", "từ chối 7 lý do")) == Command(
        "reject", 7, text="lý do"
    )


def test_split_at_word_boundaries() -> None:
    """Pieces fit the limit, cut between words, lose nothing but the cut spaces."""
    text = " ".join(f"từ{i}" for i in range(2000))
    pieces = split_text(text, 500)
    assert all(len(p) <= 500 for p in pieces)
    assert " ".join(pieces) == text


def test_split_prefers_paragraphs_and_never_orphans_marks() -> None:
    """A paragraph break is the preferred cut; an unbreakable word is cut between graphemes."""
    para = "Đoạn một. " * 30
    pieces = split_text(para.strip() + "\n\n" + para.strip(), 400)
    assert pieces[0].endswith("Đoạn một.")
    word = unicodedata.normalize("NFD", "ệ") * 10  # NFC folds to 10 chars, each whole
    assert split_text(word, 4) == ["ệệệệ", "ệệệệ", "ệệ"]
