"""Pure decisions of the article watch: material change, first difference, periods, gone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndicator.publishing.watch import (
    Snapshot,
    changed_share,
    first_difference,
    material_change,
    url_check_due,
    watched,
    withdrawn,
)

TEXT = (
    "Ủy ban nhân dân tỉnh tổ chức tiếp công dân định kỳ vào ngày 15 hằng tháng. "
    "Địa điểm tại Trụ sở Tiếp công dân tỉnh, số 12 đường Trần Phú. "
    "Công dân mang theo giấy tờ tùy thân và hồ sơ liên quan. "
    "Mọi thắc mắc xin liên hệ Văn phòng UBND tỉnh qua số điện thoại 0123 456 789. "
    "Lịch tiếp có thể thay đổi khi có việc đột xuất và sẽ được thông báo trên cổng."
)
TITLE = "Lịch tiếp công dân tháng 10"


def snap(title: str = TITLE, text: str = TEXT, h: str = "new") -> Snapshot:
    return Snapshot(title, text, h)


OLD = snap(h="old")
THREE_FIGURES = (
    TEXT.replace("ngày 15", "ngày 20")
    .replace("số 12", "số 40")
    .replace("0123 456 789", "0987 654 321")
)


@pytest.mark.parametrize(
    ("new", "material", "title_changed"),
    [
        (snap(h="old"), False, False),  # same hash: nothing to compare
        (snap(), False, False),  # another hash, same text (e.g. re-sanitised HTML)
        (snap(text=TEXT.replace("  ", " ") + " "), False, False),  # whitespace only
        (snap(title=TITLE.upper()), False, False),  # case only
        (snap(text=TEXT.replace("hằng", "hàng")), False, False),  # one word in 60: a typo fix
        (snap(title="Lịch tiếp công dân tháng 11"), True, True),  # a new figure in the title
        (snap(text=THREE_FIGURES), True, False),  # date, address and phone changed
        (snap(text=TEXT.split(". ")[0] + "."), True, False),  # most of the text removed
        (snap(title="Thông báo hủy lịch tiếp công dân", text=""), True, True),
    ],
)
def test_material_change_table(new: Snapshot, material: bool, title_changed: bool) -> None:
    """Title changes are material; text changes only beyond the threshold (5 % of words)."""
    change = material_change(OLD, new)
    assert (change is not None) == material
    if change is not None:
        assert change.title_changed == title_changed


def test_nfd_and_nfc_forms_are_the_same_text() -> None:
    """A portal re-encoding its page in NFD changes the hash but not the text read."""
    import unicodedata

    nfd = snap(title=unicodedata.normalize("NFD", TITLE), text=unicodedata.normalize("NFD", TEXT))
    assert material_change(OLD, nfd) is None
    assert changed_share(TEXT, unicodedata.normalize("NFD", TEXT)) == 0.0


def test_the_first_changed_sentence_is_shown_before_and_after() -> None:
    """The alert quotes the first sentence that differs, on both sides."""
    new = TEXT.replace("số 12 đường Trần Phú", "số 40 đường Lê Lợi")
    before, after = first_difference(TEXT, new)
    assert before == "Địa điểm tại Trụ sở Tiếp công dân tỉnh, số 12 đường Trần Phú."
    assert after == "Địa điểm tại Trụ sở Tiếp công dân tỉnh, số 40 đường Lê Lợi."
    change = material_change(OLD, snap(text=new + " Thêm câu mới hoàn toàn về lịch."))
    assert change is not None and change.before.startswith("Địa điểm") and "Lê Lợi" in change.after
    assert first_difference(TEXT, TEXT + " Câu mới.") == ("", "Câu mới.")


NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("published", "expected"),
    [(None, False), (NOW - timedelta(days=1), True), (NOW - timedelta(days=7), False),
     (NOW - timedelta(days=6, hours=23), True), (NOW + timedelta(minutes=1), False)],
)  # fmt: skip
def test_watch_period(published: datetime | None, expected: bool) -> None:
    """Watched from publication for `days` (7 by default), not before, not after."""
    assert watched(published, NOW, timedelta(days=7)) is expected


def test_url_checks_and_withdrawal() -> None:
    """URL checks every `check_every`; only 404 and 410 are a withdrawal, not a 5xx or timeout."""
    every = timedelta(hours=6)
    assert url_check_due(None, NOW, every)
    assert not url_check_due(NOW - timedelta(hours=5), NOW, every)
    assert url_check_due(NOW - timedelta(hours=6), NOW, every)
    assert withdrawn(404, "HTTP 404 Not Found") and withdrawn(410, "HTTP 410 Gone")
    assert not withdrawn(503, "HTTP 503") and not withdrawn(None, "timeout: ReadTimeout")
    assert not withdrawn(200, None)
