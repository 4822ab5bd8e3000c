"""/lich: today's and tomorrow's posts and why anything waits, in Vietnamese."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syndicator.approval.schedule_cmd import schedule_text
from syndicator.publishing.pacing import LOCAL
from syndicator.publishing.queue import QueueEntry, Wait
from syndicator.types import PostStatus as S
from tests.approval.conftest import APPROVER, STRANGER, Desk, article
from tests.approval.test_commands import command

NOW = datetime(2025, 11, 14, 3, 0, tzinfo=UTC)  # 10:00 on 14/11 in Hà Nội
H = timedelta(hours=1)
LABELS = {"facebook": "Facebook", "zalo": "Zalo OA"}


def entry(post_id: int, wait: Wait, expected: datetime | None, **kw: object) -> QueueEntry:
    return QueueEntry(
        id=post_id, article_id=post_id, title=f"Bài số {post_id}", channel="facebook",
        status=S.APPROVED, waiting_for=wait, expected_at=expected, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_schedule_text_sorts_today_tomorrow_and_untimed() -> None:
    """Timed posts fall under today or tomorrow (local days); the rest say why they wait."""
    entries = [
        entry(1, Wait.NOTHING, NOW),
        entry(2, Wait.QUIET_HOURS, NOW + 20 * H, until=NOW + 20 * H),  # 06:00 on 15/11
        entry(3, Wait.SCHEDULED, NOW + 50 * H, until=NOW + 50 * H),  # after tomorrow
        entry(4, Wait.APPROVAL, None, since=NOW - 2 * H, expires_at=NOW + 46 * H),
        entry(5, Wait.CREDENTIALS, None),
    ]
    text = schedule_text(entries, NOW, LABELS)
    today, tomorrow = text.index("Hôm nay 14/11:"), text.index("Ngày mai 15/11:")
    untimed = text.index("Chưa có giờ đăng:")
    assert today < text.index("• 10:00 · Facebook · #1 Bài số 1 — sẽ đăng ngay") < tomorrow
    line2 = "• 06:00 · Facebook · #2 Bài số 2 — đang trong giờ không đăng bài, chờ đến 06:00 15/11"
    assert tomorrow < text.index(line2) < untimed
    assert "#4 Bài số 4 — chờ duyệt từ 08:00 (hết hạn lúc 08:00 16/11)" in text
    assert "#5 Bài số 5 — kênh cần cấp lại quyền truy cập" in text
    assert text.endswith("Sau ngày mai: 1 bài.")


def test_schedule_text_when_nothing_waits_or_a_day_is_empty() -> None:
    """An empty queue says so; a day with nothing says so under its heading."""
    assert schedule_text([], NOW, LABELS) == "Không có bài nào đang chờ đăng. 👍"
    text = schedule_text([entry(1, Wait.NOTHING, NOW)], NOW, LABELS)
    assert text.split("Ngày mai 15/11:")[1].strip() == "(không có bài nào)"


def test_schedule_text_is_bounded() -> None:
    """Long queues are cut with a count, so the message stays within Telegram's limit."""
    entries = [entry(i, Wait.MIN_INTERVAL, NOW + i * H / 10, until=NOW) for i in range(1, 80)]
    text = schedule_text(entries, NOW, LABELS)
    assert len(text) < 4096 and "… và 39 bài nữa" in text


async def test_lich_through_telegram(desk: Desk) -> None:
    """An approver's /lich lists the approved post held by quiet hours and the one to decide;
    a stranger is refused (and the refusal is on record)."""
    local = datetime.now(UTC).astimezone(LOCAL)
    window = f"{local - H:%H:%M}-{local + 2 * H:%H:%M}"
    desk.raw["channels"]["facebook"]["quiet_hours"] = window
    bot = await desk.bot()
    desk.add(article(1, title="Thông báo lịch tiếp công dân"), article(2, title="Bài chờ duyệt"))
    desk.publisher(bot).plan()
    (a1, a2) = sorted({p.article_id for p in desk.storage.list_posts()})
    desk.storage.decide([p.id for p in desk.storage.list_posts(article_id=a1)], S.APPROVED,
                        actor="t", now=datetime.now(UTC))  # fmt: skip

    text = await command(desk, bot, "/lich", APPROVER)
    assert text is not None and text.startswith("🗓 Lịch đăng bài (giờ Việt Nam)")
    assert f"Facebook · #{a1} Thông báo lịch tiếp công dân — đang trong giờ không đăng bài" in text
    assert f"Zalo OA · #{a1} Thông báo lịch tiếp công dân — sẽ đăng ngay" in text
    assert f"Facebook · #{a2} Bài chờ duyệt — chờ duyệt từ" in text

    refused = await command(desk, bot, "/lich", STRANGER)
    assert refused is not None and "chỉ dành cho người duyệt" in refused
    assert any(e.kind == "approval.refused" for e in desk.storage.audit_events())
