"""Regenerate the render golden files: each case's article next to its rendered posts.

Run from the repository root after a deliberate change, then review the diff by eye:
    .venv/bin/python tests/channels/regen_golden_render.py
tests/channels/test_render_golden.py checks that the current code still produces them.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from channels import parse_channel_settings
from channels.facebook_render import render_facebook
from channels.zalo_render import render_zalo
from syndicator.types import Article, Post

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden_render"
URL = "https://example-province.gov.vn/tin-tuc/bai-viet-1234.html"
FACEBOOK = {
    "kind": "facebook_page",
    "page_id": "1000000001",
    "access_token": "PAGE_TOKEN",
    "utm": {"utm_source": "facebook", "utm_medium": "social"},
}
ZALO = {
    "kind": "zalo_oa",
    "app_id": "1",
    "secret_key": "s",
    "refresh_token": "r",
    "default_cover_url": "https://example-province.gov.vn/logo.jpg",
}
LONG_TITLE = (
    "Ủy ban nhân dân tỉnh ban hành kế hoạch triển khai thực hiện Nghị quyết của Hội đồng nhân "
    "dân tỉnh về chính sách hỗ trợ phát triển kinh tế tập thể, hợp tác xã trên địa bàn tỉnh "
    "giai đoạn 2026 – 2030 và định hướng đến năm 2035"
)
LONG_SUMMARY = " ".join(
    ["Sở Kế hoạch và Đầu tư đề nghị các doanh nghiệp, nhà đầu tư quan tâm nghiên cứu hồ sơ,"] * 8
)
RICH_HTML = (
    "<h2>Nội dung chính</h2><p>Đoạn thứ nhất có <strong>chữ đậm</strong> và "
    '<a href="https://example.gov.vn/x">liên kết</a>.<br>Dòng thứ hai &amp; ký hiệu &lt;5%.</p>'
    '<p><img src="https://example-province.gov.vn/images/a.jpg" alt="Toàn cảnh phiên họp"></p>'
    '<p><img src="/relative.jpg"></p>'
    "<table><tr><td>Số liệu</td><td>12</td></tr></table>"
    "<ul><li>Thứ nhất</li><li>Thứ hai</li></ul><blockquote>Trích dẫn.</blockquote>"
)


def _article(**fields: Any) -> Article:
    base: dict[str, Any] = {
        "source_id": "portal",
        "guid": URL,
        "url": URL,
        "canonical_url": URL,
        "title": "UBND tỉnh họp phiên thường kỳ tháng 11",
        "summary": "Chiều 14/11, UBND tỉnh tổ chức phiên họp thường kỳ tháng 11 năm 2025.",
        "content_html": "<p>Chiều 14/11, UBND tỉnh tổ chức phiên họp thường kỳ.</p>",
        "content_text": "Chiều 14/11, UBND tỉnh tổ chức phiên họp thường kỳ.",
        "image_url": "https://example-province.gov.vn/images/hop.jpg",
        "published_at": datetime(2025, 11, 14, 8, 30, tzinfo=UTC),
        "agency": "Văn phòng UBND tỉnh",
        "categories": ("chi_dao_dieu_hanh", "tin_tuc"),
        "id": 1,
    }
    base.update(fields)
    return Article(**base)


# name -> (article, extra Facebook settings, extra Zalo settings)
CASES: dict[str, tuple[Article, dict[str, Any], dict[str, Any]]] = {
    "basic": (_article(), {}, {}),
    "long_title": (_article(title=LONG_TITLE, summary=LONG_SUMMARY), {}, {}),
    "nfd_input": (
        _article(
            title=unicodedata.normalize("NFD", "Thông báo lịch tiếp công dân của Chủ tịch"),
            summary=unicodedata.normalize("NFD", "Chủ tịch UBND tỉnh tiếp công dân định kỳ."),
            agency=unicodedata.normalize("NFD", "Ban Tiếp công dân tỉnh"),
        ),
        {},
        {},
    ),
    "html_and_symbols": (
        _article(
            title="Đấu thầu gói <A&B> – giá trị < 5 tỷ đồng & hơn",
            summary='Thông báo mời thầu "gói 01" <b>không</b> phải thẻ HTML & ký hiệu.',
            content_html=RICH_HTML,
            categories=("dau_thau_mua_sam",),
        ),
        {},
        {},
    ),
    "no_image_photo_mode": (
        _article(image_url=None, categories=("hoi_dap", "khoa_moi_chua_co")),
        {"post_as": "photo"},
        {},
    ),
    "photo_mode": (_article(), {"post_as": "photo", "utm": None}, {}),
    "no_summary_no_content": (
        _article(summary="", content_html="", content_text="", categories=()),
        {"hashtags": False},
        {"status": "hide", "comment": "hide"},
    ),
    "long_agency_and_author": (
        _article(
            agency="Ban Quản lý các khu công nghiệp và khu kinh tế cửa khẩu tỉnh biên giới phía Bắc"
        ),
        {},
        {},  # no author setting: the agency, cut to Zalo's 50 characters
    ),
    "author_setting": (_article(), {}, {"author": "Cổng TTĐT tỉnh"}),
    # The feed's content is its summary: the Zalo body must not say it twice.
    "summary_is_content": (
        _article(
            content_html="<p>Chiều 14/11, UBND tỉnh tổ chức phiên họp thường kỳ tháng 11 năm 2025.</p>",
            content_text="Chiều 14/11, UBND tỉnh tổ chức phiên họp thường kỳ tháng 11 năm 2025.",
        ),
        {},
        {},
    ),
    "summary_only": (_article(content_html="", content_text=""), {}, {}),
    "existing_query_link": (
        _article(url=URL + "?id=7&utm_source=rss#top", canonical_url=URL + "?id=7"),
        {},
        {"utm": {"utm_source": "zalo", "utm_campaign": "oa"}},
    ),
}


def post_dict(post: Post) -> dict[str, Any]:
    """The JSON form of a rendered post."""
    return {"payload": post.payload, "preview_text": post.preview_text, "marker": post.marker}


def render_case(name: str) -> dict[str, Any]:
    """Everything a golden file holds for one case."""
    article, facebook_extra, zalo_extra = CASES[name]
    facebook = parse_channel_settings("facebook", {**FACEBOOK, **facebook_extra})
    zalo = parse_channel_settings("zalo", {**ZALO, **zalo_extra})
    return {
        "settings": {"facebook": facebook_extra, "zalo": zalo_extra},
        "facebook": post_dict(render_facebook(article, facebook, channel="facebook")),  # type: ignore[arg-type]
        "zalo": post_dict(render_zalo(article, zalo, channel="zalo")),  # type: ignore[arg-type]
    }


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        text = json.dumps(render_case(name), ensure_ascii=False, indent=2) + "\n"
        (GOLDEN / f"{name}.json").write_text(text, encoding="utf-8")
        print(f"wrote {name}.json")


if __name__ == "__main__":
    main()
