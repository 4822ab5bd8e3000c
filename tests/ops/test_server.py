"""/healthz and /metrics over real HTTP, with real storage behind them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from syndicator.cli import main
from syndicator.config import ServerSettings
from syndicator.errors import ConfigError
from syndicator.metrics import Metrics
from syndicator.poller import SourceReport
from syndicator.server import HealthServer, Observed, evaluate, parse_listen
from syndicator.storage import PollRecord, PostPlan, Storage, open_storage
from syndicator.types import Article, Post, PostStatus

SETTINGS = ServerSettings(listen="127.0.0.1:0", max_poll_age=timedelta(minutes=30))


class Clock:
    """A settable clock shared by the server and the test."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(sqlite_url: str) -> Any:
    """Migrated SQLite storage."""
    storage = open_storage(sqlite_url)
    yield storage
    storage.close()


async def serve(
    storage: Storage, clock: Clock, last_poll: Any, channels: tuple[str, ...] = ("facebook",)
) -> AsyncIterator[tuple[str, Metrics]]:
    metrics = Metrics(storage, channels=channels, clock=clock)
    server = HealthServer(SETTINGS, storage, metrics, clock, last_poll)
    url = await server.start()
    try:
        yield url, metrics
    finally:
        await server.stop()


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


async def test_healthz_ok_after_a_recent_poll(store: Storage) -> None:
    """A reachable database, a poll a minute ago and an active channel answer 200 with details."""
    clock = Clock()
    async for url, _ in serve(store, clock, lambda: clock.now - timedelta(minutes=1)):
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{url}/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["problems"] == []
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["poll"]["age_s"] == 60.0
    assert body["checks"]["channels"]["facebook"] == {"state": "active", "ok": True}


async def test_healthz_503_when_polling_is_stale(store: Storage) -> None:
    """A last poll older than max_poll_age fails the check with the reason named."""
    clock = Clock()
    async for url, _ in serve(store, clock, lambda: clock.now - timedelta(hours=2)):
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{url}/healthz")
    assert response.status_code == 503
    assert response.json()["problems"] == ["poll"]


async def test_healthz_grace_before_the_first_poll(store: Storage) -> None:
    """A fresh daemon is healthy before its first poll, and stale once max_poll_age has passed."""
    clock = Clock()
    async for url, _ in serve(store, clock, lambda: None):
        async with httpx.AsyncClient() as client:
            first = await client.get(f"{url}/healthz")
            clock.now += timedelta(minutes=31)
            later = await client.get(f"{url}/healthz")
    assert first.status_code == 200
    assert later.status_code == 503 and later.json()["problems"] == ["poll"]


async def test_healthz_503_when_a_channel_needs_credentials(store: Storage) -> None:
    """A channel waiting for a new token fails the check; a paused one does not."""
    clock = Clock()
    store.set_channel_status(
        "facebook", "needs_credentials", reason="token expired", actor="publisher", now=clock.now
    )
    store.set_channel_status("zalo", "paused", reason="holiday", actor="admin", now=clock.now)
    async for url, _ in serve(store, clock, lambda: clock.now, ("facebook", "zalo")):
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{url}/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["problems"] == ["channel:facebook"]
    assert body["checks"]["channels"]["facebook"]["reason"] == "token expired"
    assert body["checks"]["channels"]["zalo"] == {
        "state": "paused",
        "ok": True,
        "reason": "holiday",
    }


async def test_healthz_503_when_the_database_is_unreachable() -> None:
    """A database that refuses connections gives 503 naming the database, not a hung request."""
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_pre_ping=False)
    storage = Storage(engine)
    clock = Clock()
    async for url, _ in serve(storage, clock, lambda: clock.now):
        async with httpx.AsyncClient(timeout=10) as client:
            health = await client.get(f"{url}/healthz")
            metrics = await client.get(f"{url}/metrics")
    assert health.status_code == 503
    assert health.json()["problems"] == ["database"]
    assert "error" in health.json()["checks"]["database"]
    assert metrics.status_code == 200
    assert families(metrics.text)["syndicator_database_up"].samples[0].value == 0
    engine.dispose()


async def test_metrics_text_reports_pushed_and_stored_numbers(store: Storage) -> None:
    """/metrics parses as Prometheus text and carries polls, articles, posts, latency, sources."""
    clock = Clock()
    now = clock.now
    store.sync_sources(
        [("so-tc", "https://a.example/rss"), ("so-yt", "https://b.example/rss")], now
    )
    store.record_polls(
        [
            PollRecord("so-tc", now, now + timedelta(minutes=5), ok=True, had_new=True),
            PollRecord("so-yt", now, now + timedelta(minutes=5), ok=False, error="HTTP 503"),
        ],
        unhealthy_after=1,
        now=now,
    )
    new = store.add_articles("so-tc", [_article()], now).new
    post = Post("facebook", new[0].id, {"message": "x", "link": "https://a.example/1"}, "x", "m")
    store.save_plans(new[0].id, [PostPlan(post, PostStatus.PENDING)], now)
    async for url, metrics in serve(store, clock, lambda: now):
        metrics.poll_cycle(
            [SourceReport("so-tc", fetched=1, new=1), SourceReport("so-yt", errors=["HTTP 503"])]
        )
        metrics.published("facebook", 42.0)
        metrics.error("publish_failed")
        metrics.credentials("zalo", now + timedelta(days=80))
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    fams = families(response.text)

    def value(name: str, **labels: str) -> float:
        samples = [s for family in fams.values() for s in family.samples]
        for sample in samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
        raise AssertionError(f"no sample {name} {labels}")

    assert value("syndicator_polls_total", source="so-tc", outcome="ok") == 1
    assert value("syndicator_polls_total", source="so-yt", outcome="error") == 1
    assert value("syndicator_articles_new_total", source="so-tc") == 1
    assert value("syndicator_errors_total", kind="source") == 1
    assert value("syndicator_errors_total", kind="publish_failed") == 1
    assert value("syndicator_posts", channel="facebook", status="pending") == 1
    assert value("syndicator_posts", channel="facebook", status="published") == 0
    assert value("syndicator_publish_latency_seconds_count", channel="facebook") == 1
    assert value("syndicator_publish_latency_seconds_bucket", channel="facebook", le="60.0") == 1
    assert value("syndicator_source_up", source="so-tc") == 1
    assert value("syndicator_source_up", source="so-yt") == 0
    assert value("syndicator_channel_state", channel="facebook", state="active") == 1
    assert value(
        "syndicator_token_expiry_timestamp_seconds", channel="zalo", token="credentials"
    ) > (now.timestamp())
    assert value("syndicator_last_poll_timestamp_seconds") == pytest.approx(now.timestamp())
    assert value("syndicator_database_up") == 1


async def test_two_metrics_objects_do_not_share_numbers(store: Storage) -> None:
    """Each Metrics owns its registry, so two daemons in one process count separately."""
    first, second = Metrics(store), Metrics(store)
    first.error("x")
    assert b'syndicator_errors_total{kind="x"} 1.0' in first.render()
    assert b'kind="x"' not in second.render()


def test_parse_listen_shapes() -> None:
    """HOST:PORT, [IPv6]:PORT and :PORT parse; anything else names server.listen."""
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    assert parse_listen(":9464") == ("0.0.0.0", 9464)
    with pytest.raises(ConfigError, match=r"server\.listen"):
        parse_listen("localhost")


def test_throttled_channel_is_reported_but_healthy() -> None:
    """A channel the service asked to wait is 'throttled' with its deadline and stays healthy."""
    now = datetime.now(UTC)
    status = type(
        "S", (), {"status": "active", "reason": None, "blocked_until": now + timedelta(minutes=5)}
    )()
    health = evaluate(
        now=now, observed=Observed(True, None, now, {"facebook": status}), started_at=now,
        max_poll_age=timedelta(minutes=30),
    )  # fmt: skip
    assert health.healthy
    assert health.body["checks"]["channels"]["facebook"]["state"] == "throttled"


def _article() -> Article:
    return Article(
        source_id="so-tc", guid="g1", url="https://a.example/1", canonical_url="https://a.example/1",
        title="Thông báo", summary="Tóm tắt", content_html="<p>x</p>", content_text="x",
        image_url=None, published_at=datetime.now(UTC), agency="Sở Tài chính",
        categories=("tin_tuc",), content_hash="h1", fingerprint="f1",
    )  # fmt: skip


async def test_default_last_poll_counts_only_cycles_where_a_portal_answered(store: Storage) -> None:
    """Without a last_poll callable, /healthz uses the last cycle in which a source answered."""
    clock = Clock()
    metrics = Metrics(store, clock=clock)
    server = HealthServer(SETTINGS, store, metrics, clock)
    url = await server.start()
    try:
        metrics.poll_cycle([SourceReport("so-tc", not_modified=1)])
        clock.now += timedelta(minutes=40)
        metrics.poll_cycle([SourceReport("so-tc", errors=["HTTP 503"])])  # a failed cycle
        metrics.poll_cycle([])  # nothing due: ignored
        async with httpx.AsyncClient() as client:
            stale = await client.get(f"{url}/healthz")
            metrics.poll_cycle([SourceReport("so-tc", fetched=1)])
            fresh = await client.get(f"{url}/healthz")
    finally:
        await server.stop()
    assert stale.status_code == 503 and stale.json()["checks"]["poll"]["age_s"] == 2400.0
    assert fresh.status_code == 200
    assert b"syndicator_poll_cycles_total 3.0" in metrics.render()


def test_health_command_reads_the_database(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`syndicator health` prints the checks and exits 1 when no source ever answered."""
    config = tmp_path / "syndicator.toml"
    config.write_text(f'[database]\nurl = "{sqlite_url}"\n', encoding="utf-8")
    assert main(["--config", str(config), "health"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["problems"] == ["poll"] and body["checks"]["database"]["ok"] is True
    storage = open_storage(sqlite_url)
    now = datetime.now(UTC)
    storage.sync_sources([("so-tc", "https://a.example/rss")], now)
    storage.record_polls(
        [PollRecord("so-tc", now, now + timedelta(minutes=5), ok=True)], unhealthy_after=3, now=now
    )
    storage.close()
    assert main(["--config", str(config), "health"]) == 0


async def test_listener_counts_publications_and_passes_events_on(store: Storage) -> None:
    """metrics.listening() records latency from approval and still calls the bot's listener."""
    seen: list[str] = []

    async def bot_listener(what: str, record: Any) -> None:
        seen.append(what)

    metrics = Metrics(store)
    listener = metrics.listening(bot_listener)
    decided = datetime.now(UTC)
    record = SimpleNamespace(
        channel="zalo", decided_at=decided, scheduled_for=None,
        published_at=decided + timedelta(seconds=7),
    )  # fmt: skip
    await listener("published", record)
    await listener("needs_human", record)
    text = metrics.render().decode()
    assert seen == ["published", "needs_human"]
    assert 'syndicator_publish_latency_seconds_sum{channel="zalo"} 7.0' in text
    assert 'syndicator_errors_total{kind="publish_needs_human"} 1.0' in text
