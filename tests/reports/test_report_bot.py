"""Reports through the Telegram stand-in: the weekly report, /report, the daily anchor line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndicator.approval import heartbeat
from syndicator.approval.report_cmd import head_line, weekly_due
from syndicator.config import parse_config
from tests.approval.conftest import ADMIN, APPROVER, GROUP, STRANGER, Desk, body, wait_for
from tests.approval.test_commands import command
from tests.reports.conftest import TC, XD, seed

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def test_weekly_due() -> None:
    """Due from Monday 08:00 local until sent for that ISO week."""
    monday_0730 = datetime(2025, 11, 10, 0, 30, tzinfo=UTC)
    monday_0830 = datetime(2025, 11, 10, 1, 30, tzinfo=UTC)
    assert not weekly_due(monday_0730, "MON 08:00", None)
    assert weekly_due(monday_0830, "MON 08:00", None)
    assert weekly_due(monday_0830 + timedelta(days=3), "MON 08:00", "2025-W45")
    assert not weekly_due(monday_0830 + timedelta(days=3), "MON 08:00", "2025-W46")


def _photos(desk: Desk) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in desk.bot_messages(GROUP) if m.get("photo")]


async def test_weekly_report_reaches_the_staff_chat_once(desk: Desk) -> None:
    """With weekly = "MON 08:00", Monday 08:30 sends last week's summary and two charts, once."""
    seed(desk.storage)
    settings = parse_config({**desk.raw, "reports": {"weekly": "MON 08:00"}})
    bot = await desk.bot(settings)
    monday = datetime(2025, 11, 10, 1, 30, tzinfo=UTC)  # 08:30 local
    for now in (monday - timedelta(hours=1), monday, monday + timedelta(hours=2)):
        await bot.tick(now)
        await bot.idle()
    summaries = [body(m) for m in desk.bot_messages(GROUP) if body(m).startswith("📊")]
    assert len(summaries) == 1
    text = summaries[0]
    assert "Báo cáo tuần 03/11/2025–09/11/2025" in text and "Bài mới trên cổng: 6" in text
    assert f"{TC} (4)" in text and "Không có bài mới (2): UBND huyện Anh Sơn, UBND tỉnh" in text
    head = desk.storage.audit_head()
    assert head is not None and f"Đầu chuỗi nhật ký: {head[0]}:{head[1]}" in text
    photos = _photos(desk)
    assert [p["caption"] for p in photos] == ["Bài mới theo cơ quan và lĩnh vực", "Thời gian xử lý"]


async def test_report_command_for_approvers(desk: Desk) -> None:
    """/report quarter gives the ranking to an approver; strangers and bad periods get a reason."""
    seed(desk.storage)
    bot = await desk.bot(clock=lambda: datetime(2026, 1, 5, 3, 0, tzinfo=UTC))
    refused = await command(desk, bot, "/report", STRANGER)
    assert refused is not None and "Chỉ người duyệt" in refused
    usage = await command(desk, bot, "/report year", APPROVER)
    assert usage is not None and usage.startswith("Cách dùng: /report")
    await command(desk, bot, "/report quarter", ADMIN)
    await wait_for(lambda: len(_photos(desk)) == 2)
    text = next(body(m) for m in desk.bot_messages(GROUP) if body(m).startswith("📊"))
    # The desk's config names one source (UBND tỉnh, silent) and no per-source lists, so every
    # agency is held to the 11 default categories: TC covers 2 in 2 weeks, XD 2 in 1 week.
    assert "Báo cáo quý Q4/2025" in text and f"Làm tốt: {TC}, {XD}" in text
    assert "Cần cải thiện: UBND tỉnh, UBND huyện Anh Sơn" in text


async def test_heartbeat_carries_the_audit_head(desk: Desk) -> None:
    """The daily heartbeat ends with the trail's head, the anchor for `audit verify`."""
    seed(desk.storage)
    bot = await desk.bot()
    head = desk.storage.audit_head()
    assert head is not None
    line = head_line(desk.storage)
    assert line == f"🔗 Đầu chuỗi nhật ký: {head[0]}:{head[1]}"
    assert heartbeat.summary(bot, datetime.now(UTC)).endswith(line)
