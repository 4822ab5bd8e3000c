"""Classification: categories (with and without diacritics), secrecy markers, urgency, rules."""

from __future__ import annotations

import dataclasses

import pytest

from syndicator.errors import ConfigError
from syndicator.sources.classify import (
    CATEGORIES,
    ClassifierRules,
    categorise,
    classify,
    find_secrecy_marker,
)
from syndicator.types import Article, Flag

RULES = ClassifierRules.defaults()
MARKERS = RULES.secrecy_markers


def article(title: str, summary: str = "", **fields: object) -> Article:
    """A minimal article for classification tests."""
    base = Article(
        source_id="sotttt",
        guid="g1",
        url="https://example-province.gov.vn/tin-tuc/bai-viet.html",
        canonical_url="https://example-province.gov.vn/tin-tuc/bai-viet.html",
        title=title,
        summary=summary,
        content_html="",
        content_text=summary,
        image_url=None,
        published_at=None,
        agency="Sở TT&TT",
    )
    return dataclasses.replace(base, **fields)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Thông báo mời thầu gói thầu xây lắp trường học", "dau_thau_mua_sam"),
        ("Thong bao moi thau goi thau xay lap truong hoc", "dau_thau_mua_sam"),
        ("THÔNG BÁO KẾT QUẢ LỰA CHỌN NHÀ THẦU", "dau_thau_mua_sam"),
        ("Lịch công tác tuần 46 của Chủ tịch UBND tỉnh", "chi_dao_dieu_hanh"),
        ("Lich cong tac tuan 46 cua Chu tich UBND tinh", "chi_dao_dieu_hanh"),
        ("Danh mục dự án mời gọi đầu tư năm 2026", "dau_tu_moi_goi"),
        ("Công bố quy hoạch sử dụng đất huyện Bình Sơn", "quy_hoach_ke_hoach"),
        ("Quyết định khen thưởng tập thể có thành tích", "khen_thuong_xu_phat"),
        ("Xử phạt vi phạm hành chính trong lĩnh vực môi trường", "khen_thuong_xu_phat"),
        ("Hội nghị đối thoại doanh nghiệp quý IV", "ho_tro_doanh_nghiep"),
        ("Lấy ý kiến dự thảo Nghị quyết về phí", "van_ban_phap_luat"),
        ("Hướng dẫn nộp hồ sơ qua dịch vụ công trực tuyến", "thu_tuc_hanh_chinh"),
        ("Huong dan nop ho so qua dich vu cong truc tuyen", "thu_tuc_hanh_chinh"),
        ("Tuyên truyền, phổ biến pháp luật cho đồng bào", "pho_bien_phap_luat"),
        ("Nghiệm thu đề tài khoa học cấp tỉnh", "khoa_hoc_cong_nghe"),
        ("Hỏi – đáp về chế độ nghỉ phép", "hoi_dap"),
    ],
)
def test_keyword_categories(title: str, expected: str) -> None:
    """Title keywords give the category, typed with or without diacritics."""
    assert expected in categorise(article(title), RULES)


def test_default_category() -> None:
    """An article that matches nothing is general news."""
    assert categorise(article("Đoàn công tác thăm Lý Sơn"), RULES) == ("tin_tuc",)


def test_several_categories_most_trusted_first() -> None:
    """The portal's section comes first, then URL hints, then title keywords."""
    a = article(
        "Lấy ý kiến dự thảo về đấu thầu",
        url="https://x.gov.vn/hoi-dap/chi-tiet.html",
        source_categories=("Hỗ trợ doanh nghiệp",),
    )
    assert categorise(a, RULES) == (
        "ho_tro_doanh_nghiep",
        "hoi_dap",
        "dau_thau_mua_sam",
        "van_ban_phap_luat",
    )


@pytest.mark.parametrize(
    ("source_category", "expected"),
    [
        ("Văn bản", "van_ban_phap_luat"),
        ("VAN BAN", "van_ban_phap_luat"),
        ("Tin tức - Sự kiện", "tin_tuc"),
        ("Thông tin đấu thầu", "dau_thau_mua_sam"),
        ("Cơ hội đầu tư", "dau_tu_moi_goi"),
        ("Kêu gọi đầu tư vào khu kinh tế", "dau_tu_moi_goi"),  # no alias: keywords
    ],
)
def test_source_category_aliases(source_category: str, expected: str) -> None:
    """The portal's own section names map to category keys."""
    a = article("Bài viết", source_categories=(source_category,))
    assert categorise(a, RULES)[0] == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.gov.vn/van-ban/chi-tiet.aspx?id=3", "van_ban_phap_luat"),
        ("https://x.gov.vn/thong-tin-dau-thau/goi-1.html", "dau_thau_mua_sam"),
        ("https://x.gov.vn/Pages/hoi-dap/cau-1.aspx", "hoi_dap"),
        ("https://x.gov.vn/tin-tuc/dau-thau-goi-1.html", "tin_tuc"),  # slug is not a directory
    ],
)
def test_url_path_hints(url: str, expected: str) -> None:
    """Directory names in the URL hint at the category; the slug does not."""
    assert categorise(article("Bài viết", url=url), RULES)[0] == expected


@pytest.mark.parametrize(
    ("title", "urgent"),
    [
        ("Khẩn cấp ứng phó bão số 13", True),
        ("Sơ tán dân vùng lũ", True),
        ("So tan dan vung lu", True),
        ("Thông báo lịch tiếp công dân", False),  # "báo" is not "bão"
        ("Bảo vệ môi trường", False),  # "bảo" is not "bão"
        ("Lữ hành an toàn mùa du lịch", False),  # "lữ" is not "lũ"
        ("Phòng chống dịch bệnh trên gia súc", True),
    ],
)
def test_urgent(title: str, urgent: bool) -> None:
    """Disaster keywords set URGENT, on whole words and exact diacritics when present."""
    assert (Flag.URGENT in classify(article(title), RULES).flags) is urgent


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        ("Công văn MẬT về công tác bảo vệ", "", "MẬT"),
        ("QUYẾT ĐỊNH VỀ VIỆC THÀNH LẬP TỔ CÔNG TÁC (MẬT)", "", "MẬT"),
        ("Thông báo", "MẬT\nSố 12/TB-UBND", "MẬT"),
        ("Thông báo", "Độ mật: Tối mật. Kính gửi các sở", "TỐI MẬT"),
        ("Kế hoạch TUYỆT MẬT số 5", "", "TUYỆT MẬT"),
        ("Kế hoạch tối mật số 5", "", "TỐI MẬT"),
        ("Tài liệu lưu hành nội bộ", "", "Lưu hành nội bộ"),
        ("Báo cáo", "Tài liệu KHÔNG PHỔ BIẾN.", "Không phổ biến"),
        ("Hướng dẫn bảo vệ bí mật nhà nước", "", None),
        ("HƯỚNG DẪN BẢO VỆ BÍ MẬT NHÀ NƯỚC", "", None),
        ("Đổi mật khẩu dịch vụ công", "", None),
        ("ĐỔI MẬT KHẨU DỊCH VỤ CÔNG", "", None),
        ("MẬT ĐỘ DÂN SỐ TĂNG", "", None),
        ("HỘI NGHỊ TRIỂN KHAI CÔNG TÁC MẬT MÃ", "", None),
        ("Nông dân nuôi ong lấy mật", "", None),
        ("Thông báo", "Nội dung " + "dài " * 100 + "MẬT", None),  # deep in the body: prose
    ],
)
def test_secrecy_markers(title: str, text: str, expected: str | None) -> None:
    """Stamps are found in title and head of text; 'mật' in ordinary words is not a stamp."""
    assert find_secrecy_marker(title, text, MARKERS) == expected


def test_secrecy_holds_the_article() -> None:
    """A secrecy marker sets HOLD and secrecy_marker."""
    result = classify(article("Công văn MẬT về công tác bảo vệ"), RULES)
    assert result.held and result.secrecy_marker == "MẬT"
    assert not classify(article("Tin hoạt động"), RULES).held


def test_classify_keeps_existing_flags() -> None:
    """Flags set by normalise (TCVN3, NO_DATE) survive classification."""
    a = article("Tin hoạt động", flags=frozenset({Flag.NO_DATE}))
    assert Flag.NO_DATE in classify(a, RULES).flags


def test_defaults_cover_every_category() -> None:
    """The shipped defaults have keywords for every category except the default one."""
    assert set(RULES.keywords) == set(CATEGORIES) - {"tin_tuc"}
    assert "MẬT" in RULES.secrecy_markers and "lũ" in RULES.urgent_keywords


def test_from_mapping_merges_over_defaults() -> None:
    """A configured category replaces its default list; the others keep theirs."""
    rules = ClassifierRules.from_mapping(
        {"keywords": {"hoi_dap": ["giải đáp chính sách"]}, "urgent_keywords": ["rét đậm"]}
    )
    assert rules.keywords["hoi_dap"] == ("giải đáp chính sách",)
    assert rules.keywords["dau_thau_mua_sam"] == RULES.keywords["dau_thau_mua_sam"]
    assert rules.urgent_keywords == ("rét đậm",)
    assert rules.secrecy_markers == RULES.secrecy_markers
    assert Flag.URGENT in classify(article("Rét đậm rét hại"), rules).flags


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"keywords": {"khong_co": ["x"]}}, "classification.keywords.khong_co"),
        ({"keywords": {"hoi_dap": "x"}}, "classification.keywords.hoi_dap"),
        ({"secrecy_markers": "MẬT"}, "classification.secrecy_markers"),
        ({"keyword": {}}, "classification.keyword"),
        ({"url_paths": ["x"]}, "classification.url_paths"),
    ],
)
def test_from_mapping_rejects_bad_config(data: dict[str, object], key: str) -> None:
    """Invalid config fails with the exact key named."""
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        ClassifierRules.from_mapping(data)


def test_from_mapping_ignores_none() -> None:
    """Options left unset (None) in a config model keep their defaults."""
    rules = ClassifierRules.from_mapping({"keywords": None, "secrecy_markers": None})
    assert rules == RULES


def test_prepared_keyword_tables_match_keyword_by_keyword() -> None:
    """_first_hits (forms prepared once per table) finds exactly the categories that _Text.has
    finds keyword by keyword, on accented, unaccented, NFD and mixed-case texts."""
    import random
    import unicodedata

    from syndicator.sources.classify import _first_hits, _Text, strip_diacritics
    from syndicator.types import CATEGORIES

    vocabulary = [k for ks in RULES.keywords.values() for k in ks] + [
        "báo", "bão", "tin", "Đấu", "THẦU", "đất", "dat", "quy", "hoạch", ",", "—", "2025",
    ]  # fmt: skip
    rng = random.Random(11)
    for _ in range(400):
        text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(0, 12)))
        variant = rng.choice(["as is", "plain", "nfd", "upper"])
        if variant == "plain":
            text = strip_diacritics(text)
        elif variant == "nfd":
            text = unicodedata.normalize("NFD", text)
        elif variant == "upper":
            text = text.upper()
        prepared = _Text(text)
        expected = [
            c for c in CATEGORIES if any(prepared.has(k) for k in RULES.keywords.get(c, ()))
        ]
        assert _first_hits(_Text(text), RULES.keywords) == expected, text


def test_secrecy_marker_answers_follow_the_markers() -> None:
    """The remembered answers are per (title, text, markers): other markers, other answer."""
    text = "Tài liệu Lưu hành nội bộ của Sở"
    assert find_secrecy_marker("Tin", text, MARKERS) == "Lưu hành nội bộ"
    assert find_secrecy_marker("Tin", text, ("Không phổ biến",)) is None
    assert find_secrecy_marker("Tin", text, ("lưu hành",)) == "lưu hành"
