"""TCVN3 mojibake: detection that does not fire on normal text, and conversion."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from syndicator.sources import tcvn3
from syndicator.sources.tcvn3 import fix_tcvn3, looks_like_tcvn3, tcvn3_to_unicode

FEEDS = Path(__file__).resolve().parent.parent / "data" / "feeds"


def to_mojibake(text: str) -> str:
    """What a TCVN3 document looks like once pasted into a UTF-8 page (as make_fixtures.py)."""
    table = json.loads((FEEDS / "tcvn3_map_from_vietnameseConverter_v1.json").read_text("utf-8"))
    return "".join(
        bytes.fromhex(table[c]).decode("latin-1") if c in table else c
        for c in unicodedata.normalize("NFC", text)
    )


def test_embedded_table_matches_the_fixture() -> None:
    """The table in tcvn3.py is the extracted vietnameseConverter table, entry for entry."""
    table = json.loads((FEEDS / "tcvn3_map_from_vietnameseConverter_v1.json").read_text("utf-8"))
    assert table == tcvn3._UNICODE_TO_TCVN3


@pytest.mark.parametrize(
    ("mojibake", "unicode"),
    [
        ("nh©n d©n tØnh", "nhân dân tỉnh"),
        (
            "Uñy ban nh©n d©n tØnh Qu¶ng Ng·i th«ng b¸o lÞch tiÕp c«ng d©n th¸ng 11",
            "Ủy ban nhân dân tỉnh Quảng Ngãi thông báo lịch tiếp công dân tháng 11",
        ),
        (
            "Së N«ng nghiÖp vµ M«i tr\xadêng h\xadíng dÉn phßng chèng lò, s¹t lë ®Êt",
            "Sở Nông nghiệp và Môi trường hướng dẫn phòng chống lũ, sạt lở đất",
        ),
    ],
)
def test_fixture_strings(mojibake: str, unicode: str) -> None:
    """The strings of gov_feed_tcvn3_mojibake.xml are detected and converted exactly."""
    assert looks_like_tcvn3(mojibake)
    assert fix_tcvn3(mojibake) == (unicode, True)


@pytest.mark.parametrize(
    "text",
    [
        "Đắk Lắk: Hội nghị triển khai mô hình chính quyền địa phương hai cấp",
        "Quyết định về việc phê duyệt kế hoạch đấu thầu năm 2025",
        "Thông báo tuyển dụng viên chức – năm 2025",
        "The Provincial People's Committee announces the schedule",
        "Café © 2024, Müller & Söhne GmbH",
        "Grüße aus München",
        "España y Portugal: año nuevo",
        "Giá 1.000 USD · 50% · 2 ½ giờ",
        "Ông Müller thăm tỉnh Quảng Ngãi",
        "",
    ],
)
def test_normal_text_is_left_alone(text: str) -> None:
    """Vietnamese Unicode, English and other Latin-1 languages do not trigger the heuristic."""
    assert not looks_like_tcvn3(text)
    assert fix_tcvn3(text) == (text, False)


@pytest.mark.parametrize(
    "text",
    [
        "Kế hoạch phòng chống thiên tai và tìm kiếm cứu nạn năm 2026 của Ủy ban nhân dân tỉnh",
        "Quyết định số 12/QĐ-UBND ngày 14 tháng 11 năm 2025 về việc công bố thủ tục hành chính",
        "Đấu thầu, mua sắm công: thông báo mời thầu gói thầu số 3",
        "Hỏi đáp về dịch vụ công trực tuyến mức độ 4",
        "TRƯỜNG ĐẠI HỌC PHẠM VĂN ĐỒNG TUYỂN SINH",
    ],
)
def test_round_trip(text: str) -> None:
    """Text turned into TCVN3 mojibake is detected and comes back unchanged."""
    mojibake = to_mojibake(text)
    assert looks_like_tcvn3(mojibake)
    assert tcvn3_to_unicode(mojibake) == text


def test_mixed_text_with_more_unicode_is_not_converted() -> None:
    """A mostly-Unicode text with one odd word is not rewritten (that would damage it)."""
    text = "Thông báo của Ủy ban nhân dân tỉnh về việc tiếp công dân tØnh"
    assert not looks_like_tcvn3(text)
