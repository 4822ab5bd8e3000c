"""Prometheus metrics: counters the daemon feeds as things happen, gauges read from storage.

`Metrics` owns a private `CollectorRegistry` rather than the process-global one, so tests (and a
process that builds two daemons) never see each other's numbers or trip over duplicate names.
Counters and the latency histograms are pushed by the daemon through plain verbs
(`poll_cycle`, `published`, `error`, ...). Everything that storage already knows (posts by
state, source health, channel states, token expiry) is read on each scrape by a custom
collector instead of being mirrored, so the numbers can never drift from the database, and a
second daemon on the same PostgreSQL database reports the same totals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from syndicator import __version__
from syndicator.errors import StorageError
from syndicator.types import PostStatus

log = structlog.get_logger("syndicator.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Publishing takes seconds when all is well, minutes when a channel throttles or a reconcile
# waits, hours when a token died overnight; the buckets span all three.
LATENCY_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 86400)
# Humans answer in minutes to a day (expire_after defaults to 48 h).
WAIT_BUCKETS = (60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 86400, 2 * 86400)
CHANNEL_STATES = ("active", "paused", "needs_credentials", "throttled")
SOURCE_STATES = ("new", "ok", "failing", "unhealthy")


class PollReport(Protocol):
    """The fields of `poller.SourceReport` this module reads."""

    source_id: str
    fetched: int
    not_modified: int
    new: int
    duplicate: int
    changed: int
    errors: list[str]


class Metrics:
    """Every metric of one daemon. `storage` may be None (then only pushed metrics exist)."""

    def __init__(
        self,
        storage: Any = None,
        *,
        channels: Sequence[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.clock = clock
        r = self.registry
        self.polls = Counter(
            "syndicator_polls", "Source polls by outcome (ok, not_modified, error).",
            ["source", "outcome"], registry=r,
        )  # fmt: skip
        self.poll_cycles = Counter("syndicator_poll_cycles", "Poll cycles run.", registry=r)
        self.new_articles = Counter(
            "syndicator_articles_new", "New articles stored.", ["source"], registry=r
        )
        self.duplicates = Counter(
            "syndicator_articles_duplicate",
            "Articles recognised as duplicates of another source's.",
            ["source"],
            registry=r,
        )
        self.published_posts = Counter(
            "syndicator_published", "Posts confirmed published.", ["channel"], registry=r
        )
        self.publish_latency = Histogram(
            "syndicator_publish_latency_seconds",
            "From approval (or the scheduled time) to confirmed publication.",
            ["channel"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.approval_wait = Histogram(
            "syndicator_approval_wait_seconds",
            "From the post being ready for review to the human decision.",
            ["channel"], buckets=WAIT_BUCKETS, registry=r,
        )  # fmt: skip
        self.errors = Counter("syndicator_errors", "Errors by class.", ["kind"], registry=r)
        self.last_poll = Gauge(
            "syndicator_last_poll_timestamp_seconds",
            "When the last poll cycle finished (unix time).",
            registry=r,
        )
        self.last_success = Gauge(
            "syndicator_last_successful_poll_timestamp_seconds",
            "When a poll cycle last got an answer from at least one source (unix time).",
            registry=r,
        )
        self.last_success_at: datetime | None = None
        self.token_expiry = Gauge(
            "syndicator_token_expiry_timestamp_seconds",
            "When a channel credential expires (unix time), where known.",
            ["channel", "token"], registry=r,
        )  # fmt: skip
        info = Gauge("syndicator_info", "Version of the running daemon.", ["version"], registry=r)
        info.labels(__version__).set(1)
        self.channels = list(channels)
        # (source, outcome) -> its child counter: `labels()` checks and locks on every call,
        # and a busy daemon counts ~60 polls a second (issue 11).
        self._poll_counters: dict[tuple[str, str], Any] = {}
        if storage is not None:
            r.register(StorageCollector(storage, self.channels))

    # -- verbs the daemon calls -------------------------------------------------------------

    def poll_cycle(self, reports: Iterable[PollReport], at: datetime | None = None) -> None:
        """Count one poll cycle's per-source outcomes (the daemon may pass empty cycles too)."""
        reports = list(reports)
        if not reports:  # nothing was due: not a cycle worth counting
            return
        at = at or self.clock()
        self.poll_cycles.inc()
        answered = False
        for report in reports:
            if report.errors and not report.fetched and not report.not_modified:
                outcome = "error"
            elif report.not_modified and not report.fetched:
                outcome = "not_modified"
            else:
                outcome = "ok"
            answered = answered or outcome != "error"
            key = (report.source_id, outcome)
            counter = self._poll_counters.get(key)
            if counter is None:
                counter = self._poll_counters[key] = self.polls.labels(*key)
            counter.inc()
            if report.new:
                self.new_articles.labels(report.source_id).inc(report.new)
            if report.duplicate:
                self.duplicates.labels(report.source_id).inc(report.duplicate)
            if report.errors:
                self.errors.labels("source").inc(len(report.errors))
        self.last_poll.set(at.timestamp())
        if answered:  # at least one portal answered: the pipeline is fed
            self.last_success_at = at
            self.last_success.set(at.timestamp())

    def last_successful_poll(self) -> datetime | None:
        """When a poll cycle last got an answer from some source (HealthServer's default)."""
        return self.last_success_at

    def published(self, channel: str, latency_s: float | None) -> None:
        """One post confirmed published; latency excludes the time a human took to decide."""
        self.published_posts.labels(channel).inc()
        if latency_s is not None and latency_s >= 0:
            self.publish_latency.labels(channel).observe(latency_s)

    def decided(self, channel: str, wait_s: float) -> None:
        """A human decided on a post after `wait_s` seconds."""
        if wait_s >= 0:
            self.approval_wait.labels(channel).observe(wait_s)

    def error(self, kind: str) -> None:
        """Count one error of a class (e.g. "publish_permanent", "poll_cycle", "telegram")."""
        self.errors.labels(kind).inc()

    def credentials(self, channel: str, expires_at: datetime | None) -> None:
        """What a channel's credential check found (CredentialState.expires_at; None = never)."""
        if expires_at is None:  # a Page token that never expires: no series, not a far date
            with contextlib.suppress(KeyError):
                self.token_expiry.remove(channel, "credentials")
            return
        self.token_expiry.labels(channel, "credentials").set(expires_at.timestamp())

    async def on_post_event(self, what: str, record: Any) -> None:
        """A `publisher.Listener`: derive the publish metrics from the stored post."""
        if what == "published":
            start = _later(record.decided_at, record.scheduled_for)
            done = record.published_at or self.clock()
            latency = (done - start).total_seconds() if start else None
            self.published(record.channel, latency)
        elif what in (PostStatus.FAILED.value, PostStatus.NEEDS_HUMAN.value):
            self.error(f"publish_{what}")
        elif what == "needs_credentials":
            self.error("credentials")

    def listening(self, other: Any = None) -> Callable[[str, Any], Awaitable[None]]:
        """A publisher listener that feeds these metrics, then calls `other` (the bot's)."""

        async def listener(what: str, record: Any) -> None:
            await self.on_post_event(what, record)
            if other is not None:
                await other(what, record)

        return listener

    # -- output -----------------------------------------------------------------------------

    def render(self) -> bytes:
        """The Prometheus text exposition (runs storage queries: call it off the event loop)."""
        return generate_latest(self.registry)


class StorageCollector(Collector):
    """Gauges read from storage at scrape time; a broken database yields `database_up 0`."""

    def __init__(self, storage: Any, channels: Sequence[str]) -> None:
        self.storage = storage
        self.channels = channels

    def describe(self) -> Iterator[Metric]:
        return iter(())  # unchecked: the label sets depend on the data

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("syndicator_database_up", "1 when the database answers.")
        try:
            families = list(self._families())
        except Exception as exc:  # a scrape must still answer, saying the database is down
            log.warning("metrics_storage_failed", error=str(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        posts = GaugeMetricFamily(
            "syndicator_posts", "Posts by channel and state.", labels=["channel", "status"]
        )
        counts = self.storage.post_counts()
        channels = sorted({c for c, _ in counts} | set(self.channels))
        for channel in channels:
            for status in PostStatus:
                posts.add_metric([channel, status.value], counts.get((channel, status.value), 0))
        yield posts

        now = datetime.now(UTC)
        state = GaugeMetricFamily(
            "syndicator_channel_state",
            "1 for the state each channel is in.",
            labels=["channel", "state"],
        )
        statuses = self.storage.channel_statuses()
        for channel in sorted(set(statuses) | set(self.channels)):
            current = channel_state(statuses.get(channel), now)
            for name in CHANNEL_STATES:
                state.add_metric([channel, name], 1 if name == current else 0)
        yield state

        sources = self.storage.source_states()
        up = GaugeMetricFamily(
            "syndicator_source_up", "1 when the source's last poll worked.", labels=["source"]
        )
        errors = GaugeMetricFamily(
            "syndicator_source_consecutive_errors", "Failed polls in a row.", labels=["source"]
        )
        success = GaugeMetricFamily(
            "syndicator_source_last_success_timestamp_seconds",
            "When the source last answered (unix time).",
            labels=["source"],
        )
        for sid, st in sorted(sources.items()):
            up.add_metric([sid], 1 if st.status in ("new", "ok") else 0)
            errors.add_metric([sid], st.error_count)
            if st.last_success_at is not None:
                success.add_metric([sid], _aware(st.last_success_at).timestamp())
        yield from (up, errors, success)

        expiry = GaugeMetricFamily(
            "syndicator_stored_token_expiry_timestamp_seconds",
            "When a stored access token expires (unix time).",
            labels=["channel", "token"],
        )
        for channel in self.channels:
            try:
                tokens = self.storage.load_tokens(channel)
            except StorageError:  # sealed without SYNDICATOR_SECRET_KEY: not a database outage
                continue
            if tokens is not None and tokens.access_expires_at is not None:
                expiry.add_metric([channel, "access"], _aware(tokens.access_expires_at).timestamp())
        yield expiry


def channel_state(status: Any, now: datetime) -> str:
    """active / paused / needs_credentials, or throttled when the service asked us to wait."""
    if status is None:
        return "active"
    if status.status == "active" and status.blocked_until and _aware(status.blocked_until) > now:
        return "throttled"
    return str(status.status)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; storage writes UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(_aware(a), _aware(b))
