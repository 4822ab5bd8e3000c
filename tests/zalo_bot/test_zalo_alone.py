"""`surfaces = ["zalo_bot"]` alone: reminders, expiry, the urgent lane and admin alerts still work.

The stand-in over real sockets, both database backends; the clock is moved by passing `now`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import daemon
from syndicator.approval.expiry import EXPIRY_ACTOR, expire_due
from syndicator.types import PostStatus as S
from tests.zalo_bot.conftest import A_ID, A_NAME, B_ID, B_NAME, ZDesk, article, wait_for


async def test_one_reminder_per_preview_and_sooner_when_urgent(zdesk: ZDesk) -> None:
    """After remind_after (urgent: urgent_remind_after) each chat gets exactly one reminder."""
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME)
    (plain,) = zdesk.add(article(41))
    (urgent,) = zdesk.add(article(42, title="Khẩn cấp: ứng phó bão số 5 trên địa bàn tỉnh"))
    now = datetime.now(UTC)
    await surface.tick(now)
    assert not any("đang chờ duyệt đã" in t for t in zdesk.texts(A_ID))
    await surface.tick(now + timedelta(minutes=25))  # past urgent_remind_after (20 min) only
    reminders = [t for t in zdesk.texts(A_ID) if "đang chờ duyệt đã" in t]
    assert len(reminders) == 1 and f"Bài KHẨN số {urgent}" in reminders[0], reminders
    await surface.tick(now + timedelta(hours=2, minutes=5))  # past remind_after (2 h)
    await surface.tick(now + timedelta(hours=3))  # nothing is repeated
    reminders = [t for t in zdesk.texts(A_ID) if "đang chờ duyệt đã" in t]
    assert len(reminders) == 2 and f"Bài số {plain} đang chờ duyệt đã 2 giờ" in reminders[1]
    assert f"duyệt {plain}" in reminders[1]


async def test_the_urgent_lane_sends_urgent_previews_first(zdesk: ZDesk) -> None:
    """An urgent article found after a plain one still reaches the approver first."""
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME)
    zdesk.add(article(43))
    (urgent,) = zdesk.add(article(44, title="Thông báo khẩn cấp về lũ quét"))
    await surface.tick(datetime.now(UTC))
    previews = [t for t in zdesk.texts(A_ID) if "chờ duyệt" in t[:60]]
    assert len(previews) == 2 and f"KHẨN — bài số {urgent}" in previews[0], previews


async def test_expiry_runs_without_telegram_and_each_chat_is_told(zdesk: ZDesk) -> None:
    """The daemon's expiry tick (Zalo-only config) expires what waited past expire_after,
    audited as post.expired; the Zalo approvers get a note; `duyệt N` then decides nothing."""
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME)
    (aid,) = zdesk.add(article(45))
    now = datetime.now(UTC)
    await surface.tick(now)
    settings = zdesk.settings()
    assert settings.approval.active_surfaces == ("zalo_bot",)
    assert expire_due(zdesk.storage, settings.approval.expire_after, now) == []
    later = now + settings.approval.expire_after + timedelta(minutes=1)
    runtime = daemon.Runtime(settings, zdesk.storage, zdesk.client, clock=lambda: later)
    assert runtime.bot is None and runtime.zalo is not None
    stop = asyncio.Event()
    loop = asyncio.create_task(runtime._expiry_loop(stop))
    try:
        await wait_for(lambda: all(p.status == S.EXPIRED
                                   for p in zdesk.storage.list_posts(article_id=aid)))  # fmt: skip
    finally:
        stop.set()
        await loop
        await runtime.poller.close()
    events = list(zdesk.storage.audit_events(kinds=["post.expired"]))
    assert len(events) == 2 and all(e.actor == EXPIRY_ACTOR for e in events)
    await surface.tick(later)
    assert any(f"Bài số {aid} đã được hệ thống để hết hạn" in t for t in zdesk.texts(A_ID))
    answer = await zdesk.ask(A_ID, f"duyệt {aid}", A_NAME)
    assert "Đã duyệt" not in answer, answer
    assert {p.status for p in zdesk.storage.list_posts(article_id=aid)} == {S.EXPIRED}


async def test_admin_alerts_reach_linked_zalo_admins_once(zdesk: ZDesk) -> None:
    """An incident in the audit trail is sent to every linked Zalo admin, once; a plain
    approver does not get it; history before the first admin linked is not replayed."""
    surface = await zdesk.surface()
    zdesk.storage.record_event("source.unhealthy", actor="poller", subject="old-portal",
                               data={"errors": 3, "last_error": "cũ"}, now=datetime.now(UTC))  # fmt: skip
    await zdesk.link(A_ID, A_NAME, admin=True)
    await zdesk.link(B_ID, B_NAME)
    await surface.tick(datetime.now(UTC))  # the first pass starts at the end of the trail
    zdesk.storage.record_event("source.unhealthy", actor="poller", subject="portal",
                               data={"errors": 5, "last_error": "timeout"}, now=datetime.now(UTC))  # fmt: skip
    await surface.tick(datetime.now(UTC))
    await surface.tick(datetime.now(UTC))
    alerts = [t for t in zdesk.texts(A_ID) if "Cảnh báo cho quản trị viên" in t]
    assert len(alerts) == 1 and "«portal»" in alerts[0] and "timeout" in alerts[0], alerts
    assert not any("Cảnh báo" in t for t in zdesk.texts(B_ID))
    assert zdesk.storage.get_value("zalo_bot:alert_cursor") is not None
    assert zdesk.storage.get_value("alert_cursor") is None  # Telegram's cursor is its own


def test_the_start_backoff_doubles_from_5_seconds_to_5_minutes() -> None:
    waits = [daemon.zalo_start_wait(n).total_seconds() for n in range(1, 10)]
    assert waits == [5, 10, 20, 40, 80, 160, 300, 300, 300]


async def test_a_failing_start_backs_off_and_logs_once_per_incident(zdesk: ZDesk) -> None:
    """getMe refused (HTTP 500) again and again: tries at 0 s, 5 s, 15 s, ... not every tick;
    one log line for the incident; once it answers, the surface starts and works."""
    from structlog.testing import capture_logs

    zdesk.bot.add_fault("error", scope="getme", times=4, error_code=500,
                        description="Internal Server Error")  # fmt: skip
    start = datetime.now(UTC)
    clock = [start]
    runtime = daemon.Runtime(zdesk.settings(), zdesk.storage, zdesk.client, clock=lambda: clock[0])
    get_me = lambda: sum(r["path"] == "getme" for r in zdesk.bot.requests)  # noqa: E731
    try:
        with capture_logs() as logs:
            for second in range(0, 80):  # the daemon ticks every 2 s; here every second
                clock[0] = start + timedelta(seconds=second)
                await runtime._zalo_tick()
            assert get_me() == 5, get_me()  # at 0, 5, 15, 35 s (refused), 75 s (started)
            assert runtime._zalo_started
        failed = [e for e in logs if e["event"] == "zalo_bot_start_failed"]
        assert len(failed) == 1 and "Internal Server Error" in failed[0]["error"], logs
        assert any(e["event"] == "zalo_bot_start_recovered" for e in logs)
        await zdesk.link(A_ID, A_NAME)  # the started surface answers
    finally:
        if runtime._zalo_started:
            await runtime.zalo.stop()
        await runtime.poller.close()
