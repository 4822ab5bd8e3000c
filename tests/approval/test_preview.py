"""The pure parts: preview HTML and limits, keyboards, schedule times, edit rules."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from syndicator.approval.buttons import revision
from syndicator.approval.edits import EditError, apply_edit, default_rules
from syndicator.approval.preview import (
    CAPTION_MAX,
    PHOTO_BUDGET,
    TEXT_MAX,
    PreviewInput,
    actor_name,
    clip,
    is_open,
    keyboard,
    render,
    utf16_len,
    wants_photo,
)
from syndicator.approval.when import parse_when, preset_time
from syndicator.storage import PostRecord
from syndicator.types import Flag
from syndicator.types import PostStatus as S
from tests.publishing.conftest import article

NOW = datetime(2025, 11, 14, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội


def post(pid: int, channel: str, text: str, status: S = S.PENDING, **kw) -> PostRecord:  # type: ignore[no-untyped-def]
    payload = (
        {"message": text, "link": "https://portal.example.gov.vn/tin/1"}
        if channel == "facebook"
        else {"title": "T", "description": text, "body": [], "cover": {"photo_url": "x"}}
    )
    base = dict(
        id=pid, article_id=1, channel=channel, status=status, payload=payload, payload_hash="h",
        preview_text=text, marker="m", edited=False, created_at=NOW, updated_at=NOW,
        decided_at=None, decided_by=None, reason=None, scheduled_for=None, attempts=0,
        last_attempt_at=None, next_attempt_at=None, reconcile_checks=0, last_error=None,
        error_class=None, handle=None, external_id=None, permalink=None, published_at=None,
    )  # fmt: skip
    base.update(kw)
    return PostRecord(**base)  # type: ignore[arg-type]


KINDS = {"facebook": "facebook_page", "zalo": "zalo_oa"}


def data(title: str = "Tiêu đề", fb: str = "Nội dung FB", zalo: str = "Mô tả Zalo", **kw):  # type: ignore[no-untyped-def]
    art = replace(article(1, title=title), id=1)
    posts = (post(1, "facebook", fb), post(2, "zalo", zalo))
    return PreviewInput(article=art, posts=kw.pop("posts", posts), kinds=KINDS, **kw)


def visible(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


@pytest.mark.parametrize(
    "title", ['A < B & "C"', "<script>alert(1)</script>", "Tôm & Cá > 5 tấn", "&amp; đã mã hóa"]
)
def test_every_article_text_is_escaped(title: str) -> None:
    """Titles and channel texts with <, &, quotes come out escaped and read back verbatim."""
    out = render(data(title=title, fb=title), limit=TEXT_MAX)
    assert title in visible(out.html)
    assert html.escape(title, quote=True) in out.html
    assert not re.search(r"<(?!/?(b|blockquote|a)\b)", out.html)


def test_long_zalo_body_is_summarised_within_4096() -> None:
    """A 20,000-character Zalo body is cut with a note; the text stays within 4096 units."""
    out = render(data(zalo="Đoạn văn dài. " * 1500), limit=TEXT_MAX)
    assert out.length <= TEXT_MAX and utf16_len(visible(out.html)) == out.length
    assert "bản xem trước đã rút gọn" in visible(out.html)
    assert "Nội dung FB" in visible(out.html)


def test_caption_mode_fits_1024_and_keeps_the_stamp() -> None:
    """In a photo caption the channel texts give way so the decision stamp still fits 1024."""
    decided = dict(status=S.PUBLISHED, decided_by="telegram:1 (Nguyễn Văn A)", decided_at=NOW,
                   permalink="https://facebook.com/p/1")  # fmt: skip
    posts = (post(1, "facebook", "ư" * 900, **decided), post(2, "zalo", "ơ" * 900, **decided))
    out = render(data(posts=posts), limit=CAPTION_MAX, photo=True)
    assert out.length <= CAPTION_MAX
    assert "Đã duyệt bởi Nguyễn Văn A lúc 10:00 14/11/2025" in visible(out.html)
    assert "https://facebook.com/p/1" in visible(out.html) and [
        b[1].split(":")[0] for row in out.keyboard for b in row
    ] == ["gb", "cb"]  # only Gỡ bài and Sửa bài đã đăng


def test_photo_only_when_everything_fits() -> None:
    """wants_photo: an image and a preview inside the caption budget; else text with a link preview."""
    short = data()
    with_image = replace(short, article=replace(short.article, image_url="https://x.vn/a.jpg"))
    assert not wants_photo(short) and wants_photo(with_image)
    long = replace(with_image, posts=(post(1, "facebook", "x " * PHOTO_BUDGET),))
    assert not wants_photo(long)


def test_flags_are_shown() -> None:
    """Held marker, duplicate-of, changed-since-first-seen, TCVN3 and other agencies appear."""
    art = replace(article(1), id=1, flags=frozenset({Flag.HOLD, Flag.TCVN3}),
                  secrecy_marker="TỐI MẬT", duplicate_of=7)  # fmt: skip
    out = visible(render(replace(data(), article=art, version=3, also_at=("Sở Y tế",)),
                         limit=TEXT_MAX).html)  # fmt: skip
    for text in ("TỐI MẬT", "Trùng với bài #7", "phiên bản 3", "TCVN3", "Sở Y tế"):
        assert text in out


@pytest.mark.parametrize("menu", ["main", "edit", "schedule", "reject"])
def test_callback_data_is_short_ascii(menu: str) -> None:
    """Every button's data is ASCII, at most 64 bytes, and holds ids, never text."""
    big = replace(data(menu=menu), article=replace(article(1), id=999_999_999_999))
    for row in keyboard(big):
        for _label, value in row:
            assert value.isascii() and len(value.encode()) <= 64
            assert re.fullmatch(r"[a-z]{2}:\d+(:(1h|3h|7am|ask))?:[0-9a-f]{8}", value)


def test_keyboard_follows_state() -> None:
    """Open: approve, toggles, edit/schedule/reject; all skipped: still open; decided: none."""
    rows = keyboard(data())
    rev = revision(data().posts)
    assert rows[0] == (("✅ Duyệt", f"ap:1:{rev}"),)
    assert [v for _, v in rows[1]] == [f"tg:1:{rev}", f"tg:2:{rev}"]
    assert [v for _, v in rows[2]] == [f"em:1:{rev}", f"sc:1:{rev}", f"rj:1:{rev}"]
    skipped = (post(1, "facebook", "a", S.SKIPPED), post(2, "zalo", "b", S.SKIPPED))
    assert is_open(skipped) and keyboard(data(posts=skipped))
    decided = (post(1, "facebook", "a", S.APPROVED), post(2, "zalo", "b", S.SKIPPED))
    assert not is_open(decided) and keyboard(data(posts=decided)) == ()
    assert keyboard(data(closed=True)) == ()


@pytest.mark.parametrize(
    ("actor", "name"),
    [("telegram:111 (Nguyễn Văn A)", "Nguyễn Văn A"), ("telegram:111 Nguyễn Văn A", "Nguyễn Văn A"),
     ("zalo_bot:abc Trần B", "Trần B"), ("rule:auto_approve[0]", "quy tắc tự duyệt"),
     ("approval:expiry", "hệ thống"), ("cli:root", "cli:root"), (None, "hệ thống")],
)  # fmt: skip
def test_actor_names(actor: str | None, name: str) -> None:
    """The stamp names the person, not the audit actor string."""
    assert actor_name(actor) == name


def test_clip_never_splits_combining_marks() -> None:
    """Cutting decomposed Vietnamese keeps whole graphemes and the visible limit."""
    text = "Nghi\u0300 quyê\u0301t " * 50  # NFD: combining marks
    out = clip(text, 40)
    assert utf16_len(out) <= 40 and out.endswith("…")
    assert "quyết" in out or "Nghì" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15:30", datetime(2025, 11, 14, 8, 30, tzinfo=UTC)),  # later today
        ("09:00", datetime(2025, 11, 15, 2, 0, tzinfo=UTC)),  # already past: tomorrow
        ("15:30 24/11", datetime(2025, 11, 24, 8, 30, tzinfo=UTC)),
        ("7h05 1/1/2026", datetime(2026, 1, 1, 0, 5, tzinfo=UTC)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    """Typed times are local (UTC+7) and become aware UTC."""
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize("text", ["mai", "25:00", "15:30 31/02", ""])
def test_parse_when_rejects_nonsense(text: str) -> None:
    """Unreadable or impossible times raise ValueError."""
    with pytest.raises(ValueError):
        parse_when(text, NOW)


def test_presets() -> None:
    """+1 h, +3 h and 07:00 tomorrow in Hà Nội."""
    assert preset_time("1h", NOW) == NOW + timedelta(hours=1)
    assert preset_time("3h", NOW) == NOW + timedelta(hours=3)
    assert preset_time("7am", NOW) == datetime(2025, 11, 15, 0, 0, tzinfo=UTC)


def test_edit_rules() -> None:
    """Facebook edits replace message (preview keeps the link); Zalo edits the description, <= 300."""
    rules = default_rules()
    fb = post(1, "facebook", "cũ")
    edited = apply_edit(fb, rules["facebook_page"], "  Mới  ")
    assert edited.payload["message"] == "Mới" and edited.payload["link"] == fb.payload["link"]
    assert edited.preview_text == "Mới\n\n[Liên kết: https://portal.example.gov.vn/tin/1]"
    zalo = post(2, "zalo", "cũ")
    assert apply_edit(zalo, rules["zalo_oa"], "a\nb").payload["description"] == "a b"
    with pytest.raises(EditError) as too_long:
        apply_edit(zalo, rules["zalo_oa"], "x" * 301)
    assert (too_long.value.length, too_long.value.limit) == (301, 250)
    with pytest.raises(EditError):
        apply_edit(fb, rules["facebook_page"], "   ")


def test_failed_posts_show_a_plain_sentence_not_the_raw_error() -> None:
    """Editors read why a post failed in plain Vietnamese; the raw channel text stays out."""
    posts = (
        post(1, "facebook", "x", S.FAILED, last_error="facebook: (#100) Invalid parameter",
             error_class="permanent"),
        post(2, "zalo", "y", S.NEEDS_HUMAN, last_error="zalo: timeout: ReadTimeout",
             error_class="unresolved"),
    )  # fmt: skip
    out = visible(render(data(posts=posts), limit=TEXT_MAX).html)
    assert "Kênh từ chối bài đăng" in out and "cán bộ quản trị xem chi tiết" not in out
    assert "Không kiểm tra được bài đã lên kênh hay chưa" in out
    assert "Invalid parameter" not in out and "ReadTimeout" not in out
