"""`syndicator queue`: every open post, why it waits and when it is expected to go out.

The answers come from `syndicator.publishing.queue.explain`, which replays the publisher's own
pacing, so the queue and the publisher never disagree. Times are shown in Asia/Ho_Chi_Minh with
the zone named (or UTC with `--utc`); the jsonl rows carry ISO 8601 times with their offset.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any

from syndicator.cli.common import Context, print_jsonl, print_table
from syndicator.publishing.pacing import LOCAL
from syndicator.publishing.queue import QueueEntry, Wait, explain, idle_channels, snapshot

Fmt = Callable[[datetime | None], str]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "queue",
        help="open posts: why each waits and when it is expected to go out",
        description="Every open post (waiting for a decision, approved, scheduled, being sent) "
        "with the reason it waits (approval, schedule, quiet hours, daily cap, minimum "
        "interval, a paused channel, a throttle or a backoff) and its expected time. Times "
        "are estimates computed with the publisher's own pacing rules.",
    )
    p.add_argument("--format", choices=["table", "jsonl"], default="table")
    p.add_argument("--channel", help="only this channel")
    p.add_argument("--utc", action="store_true", help="show times in UTC (default: Vietnam time)")
    p.set_defaults(handler=queue)


def entries(ctx: Context) -> list[QueueEntry]:
    """The queue now, read from the database and the channels' pacing config."""
    import daemon

    now = ctx.now
    snap = snapshot(ctx.storage, daemon.channel_settings(ctx.settings), now)
    return explain(
        now, snap.posts, snap.channels, snap.titles,
        expire_after=ctx.settings.approval.expire_after,
    )  # fmt: skip


def time_format(utc: bool) -> tuple[tzinfo, str]:
    return (UTC, "UTC") if utc else (LOCAL, "Asia/Ho_Chi_Minh")


def formatter(zone: tzinfo) -> Fmt:
    def fmt(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    return fmt


def iso_in(value: datetime | None, zone: tzinfo) -> str | None:
    return value.astimezone(zone).isoformat() if value else None


def describe(e: QueueEntry, fmt: Fmt) -> str:
    """Why the post waits, in one English line (the bot says it in Vietnamese)."""
    w, until = e.waiting_for, fmt(e.until)
    text = {
        Wait.APPROVAL: f"awaiting approval since {fmt(e.since)}"
        + (f" (expires {fmt(e.expires_at)})" if e.expires_at else ""),
        Wait.SWITCHED_OFF: "switched off for this article by an editor",
        Wait.SCHEDULED: f"scheduled for {until}",
        Wait.BACKOFF: f"backing off after an error until {until}",
        Wait.THROTTLED: f"throttled by the service until {until}",
        Wait.BLOCKED: f"blocked by the service until {until}",
        Wait.QUIET_HOURS: f"quiet hours until {until}",
        Wait.DAILY_CAP: f"daily cap reached (until {until}, local midnight)",
        Wait.MIN_INTERVAL: f"minimum interval until {until}",
        Wait.PAUSED: "channel paused by an admin (/resume in the bot)",
        Wait.CREDENTIALS: f"channel paused for credentials: syndicator channels set-token "
        f"{e.channel}",
        Wait.RECONCILING: f"another post of the channel ({e.detail}) has an unknown outcome; "
        f"next look at {until}",
        Wait.PUBLISHING: "being sent"
        if e.until is None
        else f"outcome unknown: looking for it on the channel (next look at {until})",
        Wait.NO_CHANNEL: "its channel is not in the config",
        Wait.NOTHING: "due: goes out at the publisher's next pass",
    }[w]
    for kind, when in e.then:
        text += f"; then {kind.value.replace('_', ' ')} until {fmt(when)}"
    if w == Wait.PAUSED and e.detail:
        text += f" — {e.detail}"
    if w in (Wait.BACKOFF, Wait.PUBLISHING) and e.detail:
        text += f" — last error: {e.detail}"
    return text


def queue_row(e: QueueEntry, zone: tzinfo) -> dict[str, Any]:
    """One jsonl row. `id, article_id, title, channel, status, waiting_for, expected_at` are a
    contract (issue 14); the other fields may grow."""
    return {
        "id": e.id, "article_id": e.article_id, "title": e.title, "channel": e.channel,
        "status": e.status.value, "waiting_for": e.waiting_for.value,
        "expected_at": iso_in(e.expected_at, zone), "since": iso_in(e.since, zone),
        "until": iso_in(e.until, zone), "expires_at": iso_in(e.expires_at, zone),
        "then": [{"waiting_for": k.value, "until": iso_in(t, zone)} for k, t in e.then],
        "reason": describe(e, formatter(zone)), "detail": e.detail,
    }  # fmt: skip


def queue(ctx: Context) -> int:
    zone, zone_name = time_format(ctx.args.utc)
    items = entries(ctx)
    if ctx.args.channel:
        items = [e for e in items if e.channel == ctx.args.channel]
    if ctx.args.format == "jsonl":
        print_jsonl(queue_row(e, zone) for e in items)
        return 0
    if not items:
        print("the queue is empty: no open posts")
        return 0
    fmt = formatter(zone)
    print_table(
        ["id", "article", "channel", "status", "title", f"expected ({zone_name})", "why it waits"],
        [
            (
                e.id,
                f"a{e.article_id}",
                e.channel,
                e.status.value,
                clip(e.title, 40),
                fmt(e.expected_at) or "-",
                describe(e, fmt),
            )
            for e in items
        ],
    )
    return 0


def clip(text: str, width: int) -> str:
    """Shorten at a word boundary (never inside a Vietnamese syllable)."""
    return textwrap.shorten(text, width, placeholder=" …") if len(text) > width else text


def print_idle(ctx: Context, channels: Iterable[str], sent: set[str], out: Any = None) -> None:
    """For `publish --once`: why each channel that sent nothing did not send its posts."""
    out = out or sys.stdout
    zone, zone_name = time_format(False)
    fmt = formatter(zone)
    idle = idle_channels(entries(ctx), [c for c in channels if c not in sent])
    for name, waiting in idle.items():
        print(f"{name} sent nothing; {len(waiting)} approved post(s) wait:", file=out)
        for e in waiting:
            expected = f", expected {fmt(e.expected_at)} {zone_name}" if e.expected_at else ""
            print(f"  post {e.id} (a{e.article_id}): {describe(e, fmt)}{expected}", file=out)
