"""Reports on the Zalo bot through its stand-in: `báo cáo [tuần|tháng|quý]`, the weekly report
to every linked chat, the daily figures with the audit head to the linked admins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import daemon
from syndicator.approval.report_cmd import head_line
from syndicator.approval.zalo_bot import ZaloBotSurface, build_surface
from syndicator.approval.zalo_bot.render import TEXT_MAX
from syndicator.config import parse_config
from tests.reports.conftest import TC, XD, seed
from tests.zalo_bot.conftest import A_ID, A_NAME, B_ID, B_NAME, STRANGER, ZDesk

MONDAY = datetime(2025, 11, 10, 1, 30, tzinfo=UTC)  # 08:30 local


async def surface_at(zdesk: ZDesk, clock: Callable[[], datetime], **extra: Any) -> ZaloBotSurface:
    settings = parse_config({**zdesk.raw, **extra})
    channels = daemon.build_channels(settings, zdesk.storage, zdesk.client)
    surface = build_surface(settings, zdesk.storage, channels, zdesk.client, clock=clock)
    await surface.start()
    zdesk.surfaces.append(surface)
    return surface


async def test_report_command(zdesk: ZDesk) -> None:
    """`báo cáo quý` answers the quarter's summary (the Telegram text, built by the same code);
    without a period, last week; a wrong period explains the command; strangers are not told."""
    seed(zdesk.storage)
    await surface_at(zdesk, lambda: datetime(2026, 1, 5, 3, 0, tzinfo=UTC))
    await zdesk.link(A_ID, A_NAME)
    assert "chưa được liên kết" in await zdesk.ask(STRANGER, "báo cáo", "Người lạ")
    assert (await zdesk.ask(A_ID, "bao cao nam")).startswith("Cách dùng: «báo cáo»")
    text = await zdesk.ask(A_ID, "Báo cáo quý")
    assert "Báo cáo quý Q4/2025" in text and f"Làm tốt: {TC}, {XD}" in text
    assert "Cần cải thiện: UBND tỉnh, UBND huyện Anh Sơn" in text
    head = zdesk.storage.audit_head()
    assert head is not None and f"Đầu chuỗi nhật ký: {head[0]}:" in text
    assert "Báo cáo tuần 29/12/2025–04/01/2026" in await zdesk.ask(A_ID, "báo cáo")
    assert all(len(m.get("text") or "") <= TEXT_MAX for m in zdesk.bot.bot_messages(A_ID))
    assert not [m for m in zdesk.bot.bot_messages(A_ID) if m.get("photo")]  # text only


async def test_weekly_report_and_daily_line(zdesk: ZDesk) -> None:
    """weekly = "MON 08:00": Monday 08:30 sends last week's summary to every linked chat, once;
    heartbeat = "08:00": the day's figures with the audit head go to the linked admin only."""
    seed(zdesk.storage)
    approval = {**zdesk.raw["approval"], "heartbeat": "08:00"}
    surface = await surface_at(zdesk, lambda: MONDAY, reports={"weekly": "MON 08:00"},
                               approval=approval)  # fmt: skip
    await zdesk.link(A_ID, A_NAME, admin=True)
    await zdesk.link(B_ID, B_NAME)
    for now in (MONDAY - timedelta(hours=1), MONDAY, MONDAY + timedelta(hours=2)):
        await surface.tick(now)
    for user in (A_ID, B_ID):
        weekly = [t for t in zdesk.texts(user) if t.startswith("📊")]
        assert len(weekly) == 1, weekly
        assert "Báo cáo tuần 03/11/2025–09/11/2025" in weekly[0]
        assert "Bài mới trên cổng: 6" in weekly[0] and f"{TC} (4)" in weekly[0]
    daily = [t for t in zdesk.texts(A_ID) if t.startswith("💓") or "🔗 Đầu chuỗi nhật ký" in t]
    assert len(daily) == 1 and daily[0].rstrip().endswith(head_line(zdesk.storage))
    assert not [t for t in zdesk.texts(B_ID) if "🔗" in t]
    # A restart (a new surface on the same database) repeats neither.
    again = await surface_at(zdesk, lambda: MONDAY, reports={"weekly": "MON 08:00"},
                             approval=approval)  # fmt: skip
    await again.tick(MONDAY + timedelta(hours=3))
    assert len([t for t in zdesk.texts(B_ID) if t.startswith("📊")]) == 1
