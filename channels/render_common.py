"""Rendering pieces both channels use: templates, links with UTM, hashtags, HTML to blocks.

Everything here is pure except `template_environment`, which reads template files once and
caches the environment, so `render()` itself does no I/O after the first call.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import jinja2

from channels.text import hashtag, nfc, one_line
from syndicator.types import Article

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PACKAGE_TEMPLATES = Path(__file__).parent / "templates"

# One hashtag per directive category (docs/domain.md); the names follow the Vietnamese
# category names without diacritics so citizens can type them. Unknown keys fall back to
# the key itself in CamelCase.
CATEGORY_HASHTAGS = {
    "chi_dao_dieu_hanh": "#ThongTinChiDaoDieuHanh",
    "khen_thuong_xu_phat": "#KhenThuongXuPhat",
    "quy_hoach_ke_hoach": "#QuyHoachKeHoach",
    "dau_tu_moi_goi": "#CoHoiDauTu",
    "dau_thau_mua_sam": "#DauThauMuaSamCong",
    "ho_tro_doanh_nghiep": "#HoTroDoanhNghiep",
    "van_ban_phap_luat": "#VanBanPhapLuat",
    "thu_tuc_hanh_chinh": "#ThuTucHanhChinh",
    "pho_bien_phap_luat": "#PhoBienPhapLuat",
    "khoa_hoc_cong_nghe": "#KhoaHocCongNghe",
    "hoi_dap": "#HoiDap",
    "tin_tuc": "#TinTuc",
}


@lru_cache(maxsize=16)
def template_environment(template_dir: str | None = None) -> jinja2.Environment:
    """Templates from `template_dir` first (operators' copies), then the package defaults.

    Output is plain text, so no autoescaping; an unknown variable is an error rather than
    silently empty text in a public post.
    """
    loaders: list[jinja2.BaseLoader] = []
    if template_dir:
        loaders.append(jinja2.FileSystemLoader(template_dir))
    loaders.append(jinja2.PackageLoader("channels", "templates"))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def tidy(text: str) -> str:
    """NFC, no trailing spaces, at most one blank line in a row, no blank edges.

    Templates can then use conditional sections without fussing over whitespace.
    """
    lines = [line.rstrip() for line in nfc(text).replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def render_block(template: jinja2.Template, block: str, context: dict[str, Any]) -> str:
    """Render one `{% block %}` of a template on its own (zalo.j2 holds several texts)."""
    if block not in template.blocks:
        raise jinja2.TemplateError(f"template {template.name} has no block {block!r}")
    return tidy("".join(template.blocks[block](template.new_context(context))))


def with_utm(url: str, utm: dict[str, str] | None) -> str:
    """`url` with the UTM parameters appended; parameters the URL already has are kept.

    The existing query is left byte-for-byte as the portal wrote it (re-encoding it could
    break portals that are picky about their own links).
    """
    if not utm:
        return url
    parts = urlsplit(url)
    present = {pair.split("=", 1)[0] for pair in parts.query.split("&") if pair}
    extra = "&".join(
        f"{quote(key, safe='')}={quote(value, safe='')}"
        for key, value in utm.items()
        if key not in present
    )
    if not extra:
        return url
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def hashtags_for(categories: tuple[str, ...]) -> list[str]:
    """One hashtag per category, in the article's order, without repeats."""
    tags: list[str] = []
    for key in categories:
        tag = CATEGORY_HASHTAGS.get(key) or hashtag(key)
        if len(tag) > 1 and tag not in tags:
            tags.append(tag)
    return tags


def template_context(article: Article, link: str) -> dict[str, Any]:
    """What every template may use; see the comment at the top of each shipped template."""
    published = article.published_at.astimezone(LOCAL_TZ) if article.published_at else None
    return {
        "title": one_line(article.title),
        "summary": nfc(article.summary).strip(),
        "agency": one_line(article.agency),
        "link": link,
        "source_id": article.source_id,
        "categories": list(article.categories),
        "hashtags": hashtags_for(article.categories),
        "published_date": published.strftime("%d/%m/%Y") if published else "",
        "published_time": published.strftime("%H:%M") if published else "",
    }


# -- sanitised HTML -> Zalo body blocks ----------------------------------------------------

_TEXT_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "div", "figcaption"}
_DROPPED = {"table", "script", "style", "noscript", "template"}


class _BlockParser(HTMLParser):
    """Paragraph-like elements become text blocks, <img> image blocks; the rest is dropped.

    Tables are dropped whole: as plain text they read as a jumble of numbers, and the closing
    link leads to the full article.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[dict[str, str]] = []
        self._text: list[str] = []
        self._dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self._image(dict(attrs))
        elif tag in _DROPPED:
            self._dropping += 1
        elif tag == "br":
            self._text.append("\n")
        elif tag in _TEXT_BLOCKS:
            self.flush()
            if tag == "li":
                self._text.append("• ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self._dropping = max(0, self._dropping - 1)
        elif tag in _TEXT_BLOCKS:
            self.flush()

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self._text.append(data)

    def _image(self, attrs: dict[str, str | None]) -> None:
        src = (attrs.get("src") or "").strip()
        if self._dropping or not src.startswith(("https://", "http://")):
            return
        self.flush()
        block = {"type": "image", "url": src}
        alt = one_line(attrs.get("alt") or "")
        if alt:
            block["caption"] = alt
        self.blocks.append(block)

    def flush(self) -> None:
        lines = [" ".join(line.split()) for line in "".join(self._text).split("\n")]
        text = nfc("\n".join(line for line in lines if line))
        self._text = []
        if text and text != "•":
            self.blocks.append({"type": "text", "content": text})


def html_blocks(content_html: str) -> list[dict[str, str]]:
    """Zalo body blocks from sanitised article HTML (see `_BlockParser`)."""
    parser = _BlockParser()
    parser.feed(content_html)
    parser.close()
    parser.flush()
    return _join_list_items(parser.blocks)


def _join_list_items(blocks: list[dict[str, str]]) -> list[dict[str, str]]:
    """Consecutive list items read better as one block of lines than as many paragraphs."""
    joined: list[dict[str, str]] = []
    for block in blocks:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and previous["type"] == block["type"] == "text"
            and previous["content"].startswith("• ")
            and block["content"].startswith("• ")
        ):
            joined[-1] = {"type": "text", "content": previous["content"] + "\n" + block["content"]}
        else:
            joined.append(block)
    return joined
