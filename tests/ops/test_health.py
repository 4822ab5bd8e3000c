"""/healthz tells the truth: failing sources, late approved posts, crashing tasks, Telegram,
the audit chain — each with its reason, 503 when any holds (real HTTP, both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace

import httpx

from syndicator.config import ServerSettings
from syndicator.metrics import Metrics
from syndicator.server import HealthServer, Observed, due_since, evaluate
from syndicator.service import Vitals
from syndicator.storage import PollRecord, PostPlan, Storage
from syndicator.types import Article, Post, PostStatus

SETTINGS = ServerSettings(
    listen="127.0.0.1:0", max_poll_age=timedelta(minutes=30),
    max_approved_wait=timedelta(minutes=10),
)  # fmt: skip


def _article(n: int) -> Article:
    return Article(
        source_id="so-tc", guid=f"g{n}", url=f"https://a.example/{n}",
        canonical_url=f"https://a.example/{n}", title=f"Thông báo {n}", summary="Tóm tắt",
        content_html="<p>x</p>", content_text="x", image_url=None,
        published_at=datetime.now(UTC), agency="Sở Tài chính", categories=("tin_tuc",),
        content_hash=f"h{n}", fingerprint=f"f{n}",
    )  # fmt: skip


async def _healthz(server: HealthServer) -> httpx.Response:
    url = await server.start()
    try:
        async with httpx.AsyncClient() as client:
            return await client.get(f"{url}/healthz")
    finally:
        await server.stop()


async def test_failing_source_and_late_approved_post_fail_healthz(storage: Storage) -> None:
    """An unhealthy source and a post approved 20 min ago but never attempted give 503."""
    now = datetime.now(UTC)
    storage.sync_sources([("so-tc", "https://a.example/rss"), ("so-ok", "https://b/rss")], now)
    storage.record_polls(
        [PollRecord("so-tc", now, now + timedelta(minutes=5), ok=False, error="HTTP 503"),
         PollRecord("so-ok", now, now + timedelta(minutes=5), ok=True)],
        unhealthy_after=1, now=now,
    )  # fmt: skip
    new = storage.add_articles("so-tc", [_article(1)], now - timedelta(hours=1)).new
    post = Post("facebook", new[0].id, {"message": "x", "link": "https://a.example/1"}, "x", "m")
    [record] = storage.save_plans(new[0].id, [PostPlan(post, PostStatus.PENDING)], now)
    storage.decide([record.id], PostStatus.APPROVED, actor="cli:t", now=now - timedelta(minutes=20))
    vitals = Vitals()
    server = HealthServer(
        SETTINGS, storage, Metrics(storage), lambda: now, lambda: now,
        channels=["facebook"], sources=["so-tc", "so-ok"], vitals=vitals,
    )  # fmt: skip
    response = await _healthz(server)
    body = response.json()
    assert response.status_code == 503
    assert body["problems"] == ["source:so-tc", "publishing"]
    assert body["checks"]["sources"]["failing"] == {"so-tc": "HTTP 503"}
    assert f"post {record.id} (facebook)" in body["checks"]["publishing"]["reason"]

    # A paused channel's posts are reported as the channel, not as a stuck publisher.
    storage.set_channel_status("facebook", "paused", reason="/pause", actor="t", now=now)
    body = (await _healthz(server)).json()
    assert body["problems"] == ["source:so-tc"]


async def test_task_crash_telegram_and_audit_come_from_the_daemon(storage: Storage) -> None:
    """What the daemon's tasks report (Vitals) reaches /healthz with the reasons."""
    now = datetime.now(UTC)
    vitals = Vitals()
    vitals.crashed("publisher", "StorageError: cannot decrypt", now)
    vitals.telegram = "cannot reach Telegram at https://api.telegram.org/bot: ConnectError"
    vitals.audit = (False, "broken at event 7: hash mismatch")
    server = HealthServer(SETTINGS, storage, Metrics(storage), lambda: now, lambda: now,
                          vitals=vitals)  # fmt: skip
    response = await _healthz(server)
    body = response.json()
    assert response.status_code == 503
    assert body["problems"] == ["task:publisher", "telegram", "audit"]
    assert body["checks"]["tasks"]["publisher"]["error"] == "StorageError: cannot decrypt"
    assert "ConnectError" in body["checks"]["telegram"]["reason"]
    assert body["checks"]["audit"]["reason"] == "broken at event 7: hash mismatch"
    # An old crash is forgotten after Vitals.CRASH_MEMORY.
    later = now + Vitals.CRASH_MEMORY + timedelta(seconds=1)
    assert vitals.crashing(later) == {}


def test_evaluate_is_ok_when_nothing_holds() -> None:
    """Nothing failing: 200 with every check present."""
    now = datetime.now(UTC)
    health = evaluate(now=now, observed=Observed(True, None, now), started_at=now,
                      max_poll_age=timedelta(minutes=30))  # fmt: skip
    assert health.healthy and set(health.body["checks"]) == {
        "database", "poll", "sources", "channels", "publishing", "tasks", "telegram", "audit"
    }  # fmt: skip


def test_due_since_respects_quiet_hours_cap_and_interval() -> None:
    """A post approved in quiet hours is due when they end; min_interval moves it further."""
    approved = datetime(2025, 11, 14, 16, 0, tzinfo=UTC)  # 23:00 in Ho Chi Minh City
    record = SimpleNamespace(decided_at=approved, scheduled_for=None, next_attempt_at=None)
    quiet = SimpleNamespace(quiet_window=(time(22), time(6)), max_per_day=None, min_interval=None)
    now = datetime(2025, 11, 14, 23, 5, tzinfo=UTC)  # 06:05 local
    assert due_since(record, quiet, None, now) == datetime(2025, 11, 14, 23, 0, tzinfo=UTC)
    spaced = SimpleNamespace(quiet_window=None, max_per_day=None,
                             min_interval=timedelta(minutes=30))  # fmt: skip
    last = now - timedelta(minutes=10)
    assert due_since(record, spaced, last, now) == last + timedelta(minutes=30)
    assert due_since(record, None, None, now) == approved
