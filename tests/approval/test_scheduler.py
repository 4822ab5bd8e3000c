"""tick(now): reminders, expiry, the urgent lane, alerts from the audit cursor, flood control."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndicator.sandbox import TelegramServer
from syndicator.types import Flag
from syndicator.types import PostStatus as S
from tests.approval.conftest import (
    ADMIN_CHAT,
    GROUP,
    TOKEN,
    Desk,
    answered,
    article,
    body,
    buttons,
)
from tests.approval.test_flow import preview_of

# PTB itself reads RetryAfter.retry_after (an int today); the bot reads both forms.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def texts(desk: Desk, chat: int = GROUP) -> list[str]:
    return [body(m) for m in desk.bot_messages(chat)]


async def test_one_reminder_then_expiry(desk: Desk) -> None:
    """Past remind_after one reminder (never two); past expire_after the posts expire and buttons go."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(1))
    start = datetime.now(UTC)
    await bot.tick(start + timedelta(hours=1))
    await bot.idle()
    assert not any("đang chờ duyệt đã" in t for t in texts(desk))
    for hours in (2.1, 3, 5):
        await bot.tick(start + timedelta(hours=hours))
        await bot.idle()
    reminders = [t for t in texts(desk) if "đang chờ duyệt đã" in t]
    assert len(reminders) == 1 and reminders[0].startswith("⏰ Bài #")
    await bot.tick(start + timedelta(hours=49))
    await bot.idle()
    assert {p.status for p in desk.storage.list_posts()} == {S.EXPIRED}
    shown = desk.telegram.message(GROUP, message["message_id"])
    assert "Hết hạn chờ duyệt" in body(shown) and not buttons(shown)
    expired = [e for e in desk.storage.audit_events() if e.kind == "post.expired"]
    assert len(expired) == 2 and expired[0].actor == "approval:expiry"
    aid = desk.storage.list_posts()[0].article_id
    answer = await answered(desk, desk.tap(message["message_id"], f"ap:{aid}"), bot)
    assert answer["answer_text"].startswith("Đã được xử lý")


async def test_urgent_article_is_marked_and_reminded_sooner(desk: Desk) -> None:
    """An urgent article carries 🔴 and is reminded after urgent_remind_after, not remind_after."""
    bot = await desk.bot()
    (message,) = await preview_of(desk, bot, article(2, flags=frozenset({Flag.URGENT})))
    assert body(message).startswith("🔴")
    await bot.tick(datetime.now(UTC) + timedelta(minutes=25))
    await bot.idle()
    assert any(t.startswith("🔴⏰") for t in texts(desk))


async def test_held_article_is_flagged_and_never_auto_approved(desk: Desk) -> None:
    """A secrecy-marked article under an auto-approve rule still gets a preview with the marker."""
    settings = desk.settings(auto_approve=[{"source": "portal"}])
    bot = await desk.bot(settings)
    desk.add(article(3), article(4, flags=frozenset({Flag.HOLD}), secrecy_marker="MẬT"))
    desk.publisher(bot, settings).plan()
    await bot.tick(datetime.now(UTC))
    await bot.idle()
    (message,) = desk.previews()
    assert "Có dấu hiệu mật (MẬT)" in body(message)
    statuses = {p.article_id: p.status for p in desk.storage.list_posts()}
    assert sorted(statuses.values()) == [S.APPROVED, S.HELD]


async def test_alerts_once_per_incident_and_cursor_survives_restart(desk: Desk) -> None:
    """source.unhealthy and a failed post alert once; a restarted bot repeats nothing."""
    bot = await desk.bot()
    await bot.tick(datetime.now(UTC))
    now = datetime.now(UTC)
    desk.storage.record_event(
        "source.unhealthy", actor="poller", subject="so-tc",
        data={"errors": 5, "last_error": "HTTP 503 <Service Unavailable>"}, now=now,
    )  # fmt: skip
    await bot.tick(now)
    await bot.idle()
    await bot.tick(now)
    await bot.idle()
    alerts = texts(desk, ADMIN_CHAT)
    assert len(alerts) == 1 and "so-tc" in alerts[0] and "<Service Unavailable>" in alerts[0]
    # Admins read the plain sentence first, then the technical detail (approval/plain.py).
    assert "Máy chủ của cổng thông tin đang gặp lỗi (lỗi 503). (Chi tiết kỹ thuật:" in alerts[0]
    await bot.stop()
    desk.bots.remove(bot)
    fresh = await desk.bot()
    desk.storage.record_event(
        "channel.needs_credentials", actor="publisher", subject="channel:facebook",
        data={"from": "active", "reason": "token expired — fix: `syndicator channels set-token facebook`"},
        now=now,
    )  # fmt: skip
    await fresh.tick(now)
    await fresh.idle()
    alerts = texts(desk, ADMIN_CHAT)
    assert len(alerts) == 2 and "set-token facebook" in alerts[1]


async def test_zalo_refresh_failures_alert_once_until_rotated(desk: Desk) -> None:
    """Repeated Zalo token-refresh retries give one alert; after a rotation a new failure alerts again."""
    bot = await desk.bot()
    await bot.tick(datetime.now(UTC))
    now = datetime.now(UTC)
    for _ in range(3):
        desk.storage.record_event(
            "post.retry", actor="publisher", subject="post:9",
            data={"channel": "zalo", "error": "zalo: token refresh: HTTP 502 without JSON"},
            now=now,
        )  # fmt: skip
    await bot.tick(now)
    desk.storage.record_event("channel.token_rotated", actor="publisher",
                              subject="channel:zalo", now=now)  # fmt: skip
    desk.storage.record_event(
        "post.retry", actor="publisher", subject="post:9",
        data={"channel": "zalo", "error": "zalo: token refresh: timeout"}, now=now,
    )  # fmt: skip
    await bot.tick(now)
    await bot.idle()
    assert len([t for t in texts(desk, ADMIN_CHAT) if "làm mới mã truy cập" in t]) == 2


async def test_burst_of_fifty_previews_without_429(desk: Desk) -> None:
    """50 new articles give 50 previews under the per-chat and per-group limits, with no 429."""
    await desk.telegram.stop()
    # Telegram's group limit (20 new messages per minute) with a 1 s window to keep it short.
    desk.telegram = TelegramServer(
        [TOKEN], flood_burst=3, flood_rate=40.0, group_limit=20, group_window=1.0
    )
    await desk.telegram.start()
    limited: list[int] = []
    check = desk.telegram.flood.check

    def counting(token: str, chat_id: int) -> None:
        try:
            check(token, chat_id)
        except Exception:
            limited.append(chat_id)
            raise

    desk.telegram.flood.check = counting  # type: ignore[method-assign]
    settings = desk.settings(
        api_base=f"{desk.telegram.base_url}/bot", send_interval="30ms", group_window="1s"
    )
    bot = await desk.bot(settings)
    desk.add(*(article(100 + i) for i in range(50)))
    desk.publisher(bot, settings).plan()
    await bot.tick(datetime.now(UTC))
    await bot.idle(timeout=20)
    assert len(desk.previews()) == 50
    assert limited == [] and bot.queue.retry_after_seen == 0
    assert desk.telegram.group_limit.refused == 0
    await bot.tick(datetime.now(UTC))
    await bot.idle()
    assert len(desk.previews()) == 50


@pytest.mark.parametrize("retry_after", [1])
async def test_429_is_waited_out(desk: Desk, retry_after: int) -> None:
    """A 429 on a preview is honoured (retry_after) and the preview still arrives once."""
    bot = await desk.bot()
    desk.telegram.add_fault("429", "send", retry_after=retry_after)
    (message,) = await preview_of(desk, bot, article(5))
    assert bot.queue.retry_after_seen == 1 and buttons(message)


async def test_daily_heartbeat_once_a_day(desk: Desk) -> None:
    """With heartbeat = "08:00" one summary reaches the admin chat per local day, not before."""
    from syndicator.approval.heartbeat import heartbeat_due

    bot = await desk.bot(desk.settings(heartbeat="08:00"))
    desk.add(article(1))
    desk.publisher(bot).plan()  # its two posts (Facebook, Zalo) now wait for a decision
    before = datetime(2025, 11, 14, 0, 30, tzinfo=UTC)  # 07:30 local
    after = datetime(2025, 11, 14, 1, 30, tzinfo=UTC)  # 08:30 local
    assert not heartbeat_due(before, datetime.min.time().replace(hour=8), None)
    for now in (before, after, after + timedelta(hours=3)):
        await bot.tick(now)
        await bot.idle()
    beats = [t for t in texts(desk, ADMIN_CHAT) if t.startswith("💓")]
    assert len(beats) == 1 and "14/11/2025" in beats[0] and "Đang chờ duyệt: 1 bài" in beats[0]
    await bot.tick(after + timedelta(days=1))
    await bot.idle()
    assert len([t for t in texts(desk, ADMIN_CHAT) if t.startswith("💓")]) == 2


async def test_a_refused_preview_backs_off_instead_of_retrying_every_tick(desk: Desk) -> None:
    """A preview Telegram keeps refusing is retried with backoff, audited once, then sent."""
    bot = await desk.bot()
    desk.telegram.add_fault(
        "error",
        scope="sendMessage",
        times=3,
        error_code=400,
        description="Bad Request: chat not found",
    )
    desk.add(article(1))
    desk.publisher(bot).plan()
    start = datetime.now(UTC)
    for seconds in (0, 1, 2, 3):  # within the first backoff: one attempt only
        await bot.tick(start + timedelta(seconds=seconds))
        await bot.idle()
    assert len(desk.telegram.faults.pending()) == 2  # one refused attempt so far
    for minutes in (1, 3, 10):
        await bot.tick(datetime.now(UTC) + timedelta(minutes=minutes))
        await bot.idle()
    assert len(desk.previews()) == 1
    assert [e.kind for e in desk.storage.audit_events()].count("telegram.preview_failed") == 1
    await bot.tick(datetime.now(UTC) + timedelta(minutes=11))
    await bot.idle()
    assert any("Không gửi được bản xem trước" in t for t in texts(desk, ADMIN_CHAT))


async def test_flood_and_facebook_block_alert_the_admins(desk: Desk) -> None:
    """A flooding source and a Graph 368 block each reach the admin chat in Vietnamese."""
    bot = await desk.bot()
    await bot.tick(datetime.now(UTC))
    now = datetime.now(UTC)
    desk.storage.record_event(
        "source.flood", actor="poller", subject="so-xd",
        data={"stored": 50, "deferred": 4950, "max_new_per_poll": 50}, now=now,
    )  # fmt: skip
    desk.storage.record_event(
        "post.blocked", actor="publisher", subject="post:3",
        data={"channel": "facebook", "blocked_until": "2026-12-02T06:00:00+00:00"}, now=now,
    )  # fmt: skip
    await bot.tick(now)
    await bot.idle()
    alerts = texts(desk, ADMIN_CHAT)
    assert any("so-xd" in t and "4950" in t for t in alerts)
    assert any("368" in t and "#3" in t for t in alerts)


async def test_the_alert_cursor_is_stored_at_once_for_an_alert_and_lazily_for_quiet_events(
    desk: Desk,
) -> None:
    """Quiet events (new articles, new posts: most of the trail) move the cursor in memory at
    every tick but store it at most once a minute; an event that was looked at stores it at
    once. A restart in between re-reads only quiet events: nothing is sent twice."""
    from syndicator.approval.alerts import CURSOR

    bot = await desk.bot()
    now = datetime.now(UTC)
    await bot.tick(now)
    stored = desk.storage.get_value(CURSOR)

    def quiet() -> None:
        desk.storage.record_event("article.new", actor="poller", subject="article:1", now=now)

    quiet()
    await bot.tick(now + timedelta(seconds=2))
    assert desk.storage.get_value(CURSOR) != stored  # the first move is stored
    stored = desk.storage.get_value(CURSOR)
    quiet()
    await bot.tick(now + timedelta(seconds=4))
    assert desk.storage.get_value(CURSOR) == stored  # quiet, within the minute: not yet
    desk.storage.record_event(
        "source.unhealthy", actor="poller", subject="so-tc",
        data={"errors": 5, "last_error": "HTTP 503"}, now=now,
    )  # fmt: skip
    await bot.tick(now + timedelta(seconds=6))
    await bot.idle()
    last = desk.storage.last_audit_id()
    assert int(desk.storage.get_value(CURSOR) or 0) == last  # an alert: stored at once
    quiet()
    await bot.tick(now + timedelta(seconds=8))
    assert int(desk.storage.get_value(CURSOR) or 0) == last
    await bot.tick(now + timedelta(seconds=70))
    assert int(desk.storage.get_value(CURSOR) or 0) == desk.storage.last_audit_id()
    # A restart before that would have re-read the quiet event only: one alert in all.
    assert len(texts(desk, ADMIN_CHAT)) == 1


async def test_the_reminder_pass_runs_at_most_every_half_minute(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reminders come after 20 minutes at the soonest: the pass over every open preview runs
    at most every PASS_EVERY, not at every tick (2 s); a clock set back runs it at once."""
    from syndicator.approval.reminders import PASS_EVERY

    bot = await desk.bot()
    passes: list[datetime] = []
    real = bot.reminders._pass

    def counting(now: datetime) -> object:
        passes.append(now)
        return real(now)

    monkeypatch.setattr(bot.reminders, "_pass", counting)
    start = datetime.now(UTC)
    for seconds in (0, 2, 4, 28):
        await bot.tick(start + timedelta(seconds=seconds))
    assert passes == [start]
    await bot.tick(start + PASS_EVERY)
    await bot.tick(start + timedelta(seconds=5))  # set back
    assert passes == [start, start + PASS_EVERY, start + timedelta(seconds=5)]


async def test_the_desk_reads_no_more_previews_while_a_minute_of_them_is_queued(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With QUEUED_ENOUGH previews queued (a group takes ~20 a minute), a tick does not read
    the articles needing one; once the queue drains, the rest are read and sent: none lost."""
    from syndicator.approval import preview_desk

    monkeypatch.setattr(preview_desk, "QUEUED_ENOUGH", 3)
    bot = await desk.bot()
    reads: list[int] = []
    real = desk.storage.articles_needing_preview

    def counting(limit: int = 100) -> list[int]:
        found = real(limit)
        reads.append(len(found))
        return found

    monkeypatch.setattr(desk.storage, "articles_needing_preview", counting)
    desk.add(*(article(200 + i) for i in range(5)))
    desk.publisher(bot).plan()
    bot._sending.update({-1, -2, -3})  # three queued: enough
    await bot.send_new_previews(datetime.now(UTC))
    assert reads == []
    bot._sending.difference_update({-1, -2, -3})
    await bot.tick(datetime.now(UTC))
    await bot.idle()
    assert reads == [5] and len(desk.previews()) == 5
