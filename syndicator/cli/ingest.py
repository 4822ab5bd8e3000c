"""Commands for configuration, polling, articles and sources."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from syndicator.cli import ops
from syndicator.cli.common import (
    Context,
    add_utc_option,
    clock,
    iso,
    parse_since,
    print_jsonl,
    print_table,
    shorten,
    zone_of,
)
from syndicator.durations import format_duration
from syndicator.errors import UsageError
from syndicator.storage.engine import check_writable, current_revision, sqlite_path, upgrade
from syndicator.types import Article


def register(sub: Any) -> None:
    p = sub.add_parser("check-config", help="validate the config and print a summary")
    p.set_defaults(handler=check_config)

    p = sub.add_parser("poll", help="poll the sources")
    p.add_argument(
        "--once", action="store_true", help="one cycle of every source, due or not, then exit"
    )
    p.add_argument("--source", metavar="ID", action="append", help="only this source (repeatable)")
    p.set_defaults(handler=poll)

    p = sub.add_parser("articles", help="list collected articles")
    p.add_argument("--since", metavar="ISO", help="first seen at or after this time")
    p.add_argument("--source", metavar="ID")
    p.add_argument("--format", choices=["table", "jsonl"], default="table")
    p.add_argument("--limit", type=int)
    add_utc_option(p)
    p.set_defaults(handler=articles)

    p = sub.add_parser("sources", help="health of each source")
    add_utc_option(p)
    p.set_defaults(handler=sources)

    p = sub.add_parser("db", help="database maintenance")
    db_sub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="apply schema migrations")
    up.set_defaults(handler=db_upgrade)
    ops.add_backup_parser(db_sub)


def check_config(ctx: Context) -> int:
    settings = ctx.settings
    print(f"config OK: {len(settings.sources)} source(s)")
    path = sqlite_path(settings.database.url)
    if path is not None:
        check_writable(path)  # StorageError: one line with the fix
        print(f"database: {path.absolute()} (SQLite, writable)")
    else:
        print(f"database: {_safe_url(settings.database.url)}")
    rows = [
        (
            s.id,
            s.kind,
            format_duration(s.interval),
            s.agency_name,
            s.url,
            "" if s.enabled else "disabled",
        )
        for s in settings.sources
    ]
    if rows:
        print_table(["id", "kind", "interval", "agency", "url", ""], rows)
    for name, channel in settings.channels.items():
        print(f"channel {name}: {channel.get('kind', '?')}")
    approval = settings.approval
    rules = len(approval.auto_approve)
    print(f"approval: {approval.mode}" + (f" ({rules} auto-approve rule(s))" if rules else ""))
    from syndicator.config_warnings import config_warnings

    for warning in config_warnings(settings):  # risky but valid: warned, exit code unchanged
        print(f"warning: {warning}", file=sys.stderr)
    checks = ops.environment_checks(settings)
    for ok, line in checks:
        print(line, file=sys.stdout if ok else sys.stderr)
    return 0 if all(ok for ok, _ in checks) else 1


def poll(ctx: Context) -> int:
    if not ctx.args.once:
        raise UsageError(
            "poll runs continuously only inside the daemon: use `syndicator run`, or `poll --once`"
        )
    settings = ctx.settings
    wanted = ctx.args.source
    if wanted:
        for source_id in wanted:
            settings.source(source_id)  # raises ConfigError naming an unknown id
    reports = asyncio.run(_poll_once(ctx, wanted))
    print_table(
        ["source", "fetched", "not-modified", "new", "duplicate", "changed", "errors"],
        [
            (
                r.source_id,
                r.fetched,
                r.not_modified,
                r.new,
                r.duplicate,
                r.changed,
                shorten("; ".join(r.errors), 100) if r.errors else 0,
            )
            for r in reports
        ],
    )
    # Any failed source fails the command (after the table): a cron job or a person running
    # it must not read "0" when 3 of 4 portals are down.
    failed = [r.source_id for r in reports if r.failed]
    if failed:
        _stderr(f"{len(failed)} of {len(reports)} source(s) failed: {', '.join(failed)}")
    return 1 if failed else 0


async def _poll_once(ctx: Context, wanted: list[str] | None) -> list[Any]:
    import daemon

    storage = ctx.storage
    feeds = daemon.build_feed_sessions(ctx.settings)  # None with [fetch] transport = "httpx"
    try:
        async with daemon.build_http_client(ctx.settings) as client:
            poller = daemon.build_poller(ctx.settings, storage, client, feeds=feeds)
            return await poller.poll(wanted)
    finally:
        if feeds is not None:
            await feeds.aclose()


def article_row(a: Article) -> dict[str, Any]:
    return {
        "id": a.id,
        "source": a.source_id,
        "guid": a.guid,
        "url": a.url,
        "canonical_url": a.canonical_url,
        "title": a.title,
        "summary": a.summary,
        "published_at": iso(a.published_at),
        "first_seen_at": iso(a.first_seen_at),
        "categories": list(a.categories),
        "flags": sorted(a.flags),
        "secrecy_marker": a.secrecy_marker,
        "image_url": a.image_url,
        "agency": a.agency,
        "duplicate_of": a.duplicate_of,
        "content_hash": a.content_hash,
    }


def articles(ctx: Context) -> int:
    items = ctx.storage.list_articles(
        since=parse_since(ctx.args.since), source_id=ctx.args.source, limit=ctx.args.limit
    )
    if ctx.args.format == "jsonl":
        print_jsonl(article_row(a) for a in items)
        return 0
    zone, zone_name = zone_of(ctx.args)
    print_table(
        ["id", "source", f"published ({zone_name})", "categories", "flags", "dup of", "title"],
        [
            (
                f"a{a.id}",
                a.source_id,
                clock(a.published_at, zone, "-"),
                ",".join(a.categories),
                ",".join(sorted(a.flags)),
                a.duplicate_of or "",
                shorten(a.title, 70),
            )
            for a in items
        ],
    )
    return 0


def sources(ctx: Context) -> int:
    settings = ctx.settings
    states = ctx.storage.source_states()
    now = datetime.now(UTC)
    zone, zone_name = zone_of(ctx.args)
    rows = []
    for source in settings.sources:
        st = states.get(source.id)
        if st is None:
            rows.append((source.id, "never", "not yet polled", 0, "", "now"))
            continue
        ago = _ago(st.last_checked_at, now)
        rows.append(
            (
                source.id,
                f"{clock(st.last_checked_at, zone)} ({ago})" if st.last_checked_at else ago,
                st.status if source.enabled else "disabled",
                st.error_count,
                shorten(st.last_error or "", 60),
                _until(st.next_check_at, now),
            )
        )
    print_table(
        ["source", f"last check ({zone_name})", "status", "errors", "last error", "next check"],
        rows,
    )
    return 0


def db_upgrade(ctx: Context) -> int:
    import daemon

    storage = daemon.build_storage(ctx.settings, migrate=False)
    before = current_revision(storage.engine)
    upgrade(storage.engine)
    after = current_revision(storage.engine)
    print(
        f"database at revision {after}"
        + (f" (was {before})" if before != after else " (up to date)")
    )
    return 0


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    return format_duration(now - when) + " ago"


def _until(when: datetime | None, now: datetime) -> str:
    if when is None or when <= now:
        return "due now"
    return "in " + format_duration(when - now)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _stderr(*parts: object) -> None:
    print(*parts, file=sys.stderr)
