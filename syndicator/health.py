"""What /healthz decides, as pure functions of what was observed: `evaluate(observed, ...)`
gives the status, the problems and their reasons (see server.py for when each check fails).
Split from server.py, which keeps the listener and the snapshot that feeds these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from syndicator import __version__
from syndicator.metrics import channel_state
from syndicator.publishing.pacing import local_midnight, quiet_until


@dataclass(frozen=True, slots=True)
class Health:
    """The outcome of the checks, and the JSON body that explains it."""

    healthy: bool
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Observed:
    """What the checks read; `evaluate` turns it into a verdict without touching anything."""

    database_ok: bool
    database_error: str | None = None
    last_poll: datetime | None = None
    channels: Mapping[str, Any] = field(default_factory=dict)
    failing_sources: Mapping[str, str | None] = field(default_factory=dict)
    waiting_posts: Sequence[tuple[int, str, datetime]] = ()  # (post, channel, due since)
    crashing: Mapping[str, tuple[int, str, datetime]] = field(default_factory=dict)
    telegram: str | None = None  # why Telegram cannot be reached; None when it can (or no bot)
    audit: tuple[bool, str | None] | None = None  # last verification; None: not checked yet
    age_s: float | None = None  # how old the storage snapshot is (None: read just now)
    writer_busy_s: float = 0.0  # how long the storage thread has been on its current call


def due_since(record: Any, pacing: Any, last_published: datetime | None, now: datetime) -> datetime:
    """Since when an approved post could have gone out: its decision or schedule, moved past
    the channel's quiet window, today's daily cap and min_interval. Pure."""
    due = max(t for t in (record.decided_at, record.scheduled_for, record.next_attempt_at) if t)
    due = due if due.tzinfo else due.replace(tzinfo=UTC)
    if pacing is None:
        return due
    end = quiet_until(due, getattr(pacing, "quiet_window", None))
    due = end or due
    if getattr(pacing, "max_per_day", None) is not None:
        due = max(due, min(now, local_midnight(now)))  # a cap reached yesterday held it
    interval = getattr(pacing, "min_interval", None)
    if interval and last_published is not None:
        due = max(due, last_published + interval)
    return due


def evaluate(
    *,
    now: datetime,
    observed: Observed,
    started_at: datetime,
    max_poll_age: timedelta,
    max_approved_wait: timedelta = timedelta(minutes=30),
) -> Health:
    """Decide health from what was observed; pure, so the rules are easy to read and test."""
    problems: list[str] = []
    database: dict[str, Any] = {"ok": observed.database_ok}
    if not observed.database_ok:
        database["error"] = observed.database_error
        problems.append("database")
    if observed.age_s is not None:
        database["age_s"] = round(observed.age_s, 1)
    if observed.writer_busy_s >= 1.0:  # e.g. a write waiting for the SQLite lock: worth a look
        database["writer_busy_s"] = round(observed.writer_busy_s, 1)

    poll: dict[str, Any] = {"max_age_s": max_poll_age.total_seconds()}
    if observed.last_poll is None:
        # A fresh daemon gets one max_poll_age of grace before "never polled" counts as stale.
        poll["last_poll_at"] = None
        poll["ok"] = now - started_at <= max_poll_age
        poll["note"] = "no poll cycle finished yet"
    else:
        age = now - observed.last_poll
        poll.update(
            last_poll_at=observed.last_poll.isoformat(), age_s=round(age.total_seconds(), 1)
        )
        poll["ok"] = age <= max_poll_age
    if not poll["ok"]:
        problems.append("poll")

    sources = {"ok": not observed.failing_sources, "failing": dict(observed.failing_sources)}
    problems += [f"source:{name}" for name in sorted(observed.failing_sources)]

    channel_checks: dict[str, Any] = {}
    for name, status in sorted(observed.channels.items()):
        state = channel_state(status, now)
        entry: dict[str, Any] = {"state": state, "ok": state != "needs_credentials"}
        if status is not None and status.reason:
            entry["reason"] = status.reason
        if state == "throttled":
            entry["blocked_until"] = status.blocked_until.isoformat()
        if not entry["ok"]:
            problems.append(f"channel:{name}")
        channel_checks[name] = entry

    late = [(pid, ch, since) for pid, ch, since in observed.waiting_posts
            if now - since > max_approved_wait]  # fmt: skip
    publishing: dict[str, Any] = {"ok": not late, "max_wait_s": max_approved_wait.total_seconds()}
    if late:
        oldest = min(late, key=lambda item: item[2])
        publishing["late_posts"] = len(late)
        publishing["reason"] = (
            f"{len(late)} approved post(s) not attempted; post {oldest[0]} ({oldest[1]}) due "
            f"since {oldest[2].isoformat()}: is the publisher running? see `syndicator posts`"
        )
        problems.append("publishing")

    tasks = {name: {"crashes": n, "error": error, "at": at.isoformat()}
             for name, (n, error, at) in sorted(observed.crashing.items())}  # fmt: skip
    problems += [f"task:{name}" for name in tasks]

    telegram: dict[str, Any] = {"ok": observed.telegram is None}
    if observed.telegram is not None:
        telegram["reason"] = observed.telegram
        problems.append("telegram")

    audit: dict[str, Any] = {"ok": True, "checked": observed.audit is not None}
    if observed.audit is not None and not observed.audit[0]:
        audit.update(ok=False, reason=observed.audit[1])
        problems.append("audit")

    body = {
        "status": "ok" if not problems else "fail",
        "problems": problems,
        "version": __version__,
        "time": now.isoformat(),
        "checks": {
            "database": database, "poll": poll, "sources": sources, "channels": channel_checks,
            "publishing": publishing, "tasks": tasks, "telegram": telegram, "audit": audit,
        },
    }  # fmt: skip
    return Health(not problems, body)


def _fields(observed: Observed) -> dict[str, Any]:
    return {name: getattr(observed, name) for name in Observed.__dataclass_fields__}
