"""The admins are told when the audit trail breaks: the bot's check walks a backlog in bites
(sharing the daemon's checkpoint) and alerts once per broken event, through the Telegram
stand-in. Both backends."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from syndicator.approval import alerts as alerts_module
from tests.approval.conftest import ADMIN_CHAT, Desk, body, wait_for


async def test_a_broken_trail_alerts_the_admins_once(desk: Desk, now, monkeypatch) -> None:
    monkeypatch.setattr(alerts_module, "AUDIT_STEP_ROWS", 3)
    for i in range(8):
        desk.storage.record_event("test.event", actor="t", subject=f"s:{i}", data={}, now=now)
    bot = await desk.bot()
    steps: list[bool] = []
    real = desk.storage.verify_audit_step

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        steps.append(result.pending)
        return result

    monkeypatch.setattr(desk.storage, "verify_audit_step", spy)
    for _ in range(4):  # the backlog in bites of 3: each tick goes on where the last stopped
        await bot.alerts.run(now)
    assert steps[0] and False in steps  # several bites, then caught up
    caught_up = steps.index(False)
    assert all(steps[:caught_up]) and caught_up >= 2
    assert not [m for m in desk.bot_messages(ADMIN_CHAT) if "Nhật ký" in body(m)]

    with desk.storage.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'x' WHERE id = 2"))
    desk.storage.delete_audit_checkpoint()  # as when the daily whole walk is due
    later = now + timedelta(days=1)
    for _ in range(3):
        await bot.alerts.run(later)
        later += bot.cfg.verify_every
    alerts = await wait_for(
        lambda: [m for m in desk.bot_messages(ADMIN_CHAT) if "Nhật ký" in body(m)]
    )
    assert len(alerts) == 1 and "#2" in body(alerts[0])


async def test_no_storage_asked_until_a_check_may_be_due(desk: Desk, now, monkeypatch) -> None:
    """The bot ticks every 2 s; the check is due every verify_every: in between, the tick
    asks the database nothing about it. Another instance's recent check counts too."""
    bot = await desk.bot()
    asked: list[object] = []
    real = bot.alerts._verify_due

    def spy(when):
        asked.append(when)
        return real(when)

    monkeypatch.setattr(bot.alerts, "_verify_due", spy)
    await bot.alerts.run(now)  # the first check: due
    assert len(asked) == 1 and bot.alerts.verified_at == now
    for seconds in (2, 4, 60):
        await bot.alerts.run(now + timedelta(seconds=seconds))
    assert len(asked) == 1
    # Another instance checked later than this one knows: read once, then trusted.
    other = now + bot.cfg.verify_every + timedelta(seconds=1)
    desk.storage.set_value(alerts_module.LAST_VERIFY, other.isoformat(), other)
    await bot.alerts.run(other + timedelta(seconds=2))
    await bot.alerts.run(other + timedelta(seconds=4))
    assert len(asked) == 2 and bot.alerts.verified_at == other
    await bot.alerts.run(other + bot.cfg.verify_every)
    assert len(asked) == 3 and bot.alerts.verified_at == other + bot.cfg.verify_every


async def test_no_check_before_the_daemon_says_ready(desk: Desk, now) -> None:
    """The daemon holds the bot's checks until its first wave of polls is over."""
    bot = await desk.bot()
    bot.alerts.ready = lambda: False
    await bot.alerts.run(now)
    assert bot.alerts.verified_at is None
    assert desk.storage.get_value(alerts_module.LAST_VERIFY) is None
    bot.alerts.ready = lambda: True
    await bot.alerts.run(now)
    assert bot.alerts.verified_at == now
