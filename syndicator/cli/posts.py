"""Commands for the outbox: posts, render, approve, reject, publish, channels, run."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from syndicator.approval.decisions import Action, Actor, Decisions, Request
from syndicator.cli.common import (
    Context,
    add_utc_option,
    clock,
    iso,
    print_jsonl,
    print_table,
    shorten,
    zone_of,
)
from syndicator.errors import SyndicatorError, UsageError
from syndicator.storage import PostRecord
from syndicator.storage.channels import ACTIVE, NEEDS_CREDENTIALS, PAUSED
from syndicator.storage.posts import OPEN

if TYPE_CHECKING:
    from channels.base import Channel
from syndicator.types import PostStatus


def register(sub: Any) -> None:
    p = sub.add_parser("posts", help="list posts (the outbox)")
    p.add_argument("--status", action="append", choices=[s.value for s in PostStatus])
    p.add_argument("--channel")
    p.add_argument("--format", choices=["table", "jsonl"], default="table")
    add_utc_option(p)
    p.set_defaults(handler=posts)

    p = sub.add_parser("render", help="show exactly what would be published for an article")
    p.add_argument(
        "article_id",
        metavar="ARTICLE_OR_POST_ID",
        help="an article (4, a4, article:4) or a post (p12, post:12: its article, its channel)",
    )
    p.add_argument("--channel")
    p.set_defaults(handler=render)

    for name, helptext in (
        ("approve", "approve a post (N) or all waiting posts of an article (aN)"),
        ("reject", "reject a post (N) or all waiting posts of an article (aN)"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument(
            "id",
            metavar="POST_OR_ARTICLE_ID",
            help="a post id (12, post:12) or an article id (a7, article:7)",
        )
        if name == "reject":
            p.add_argument("--reason", metavar="TEXT")
        p.set_defaults(handler=approve if name == "approve" else reject)

    p = sub.add_parser("publish", help="plan and publish due posts")
    p.add_argument("--once", action="store_true", help="one pass over every channel, then exit")
    p.set_defaults(handler=publish)

    p = sub.add_parser("channels", help="channel credentials")
    ch = p.add_subparsers(dest="channels_command", required=True, metavar="ACTION")
    c = ch.add_parser("check", help="credential state of each channel")
    c.set_defaults(handler=channels_check)
    t = ch.add_parser("set-token", help="read a new Page token / Zalo refresh token from stdin")
    t.add_argument("channel")
    t.set_defaults(handler=set_token)

    p = sub.add_parser("run", help="run the daemon (poll, plan, approve, publish) until stopped")
    p.set_defaults(handler=run)


def post_row(p: PostRecord) -> dict[str, Any]:
    return {
        "id": p.id, "article_id": p.article_id, "channel": p.channel, "status": p.status.value,
        "external_id": p.external_id, "permalink": p.permalink, "attempts": p.attempts,
        "last_error": p.last_error, "error_class": p.error_class, "decided_by": p.decided_by,
        "decided_at": iso(p.decided_at), "scheduled_for": iso(p.scheduled_for),
        "published_at": iso(p.published_at), "created_at": iso(p.created_at),
        "payload_hash": p.payload_hash, "edited": p.edited,
    }  # fmt: skip


def posts(ctx: Context) -> int:
    statuses = [PostStatus(s) for s in ctx.args.status] if ctx.args.status else None
    items = ctx.storage.list_posts(status=statuses, channel=ctx.args.channel)
    if ctx.args.format == "jsonl":
        print_jsonl(post_row(p) for p in items)
        return 0
    zone, zone_name = zone_of(ctx.args)
    titles: dict[int, str] = {}
    for article_id in sorted({p.article_id for p in items}):
        article = ctx.storage.get_article(article_id)
        titles[article_id] = article.title if article is not None else ""
    print_table(
        ["id", "article", "channel", "status", "title", f"updated ({zone_name})", "attempts",
         "external id", "decided by", "error"],
        [
            (
                p.id, f"a{p.article_id}", p.channel, p.status.value,
                shorten(titles.get(p.article_id, ""), 40), clock(p.updated_at, zone), p.attempts,
                p.external_id or "", shorten(p.decided_by or "", 30),
                shorten(p.last_error or "", 50),
            )
            for p in items
        ],
    )  # fmt: skip
    return 0


def _with_channels(ctx: Context, work: Any, *, may_refresh: bool = True) -> Any:
    import daemon

    async def go() -> Any:
        async with daemon.build_http_client(ctx.settings) as client:
            channels = daemon.build_channels(
                ctx.settings, ctx.storage, client, may_refresh=may_refresh
            )
            return await work(client, channels)

    return asyncio.run(go())


def render_target(raw: str) -> tuple[str, int]:
    """("article" | "post", number) from what `render` was given: a bare number is an article
    (as it always was), `aN`/`article:N` an article, `pN`/`post:N` a post."""
    text = raw.strip().lower()
    for prefix, kind in (("article:", "article"), ("post:", "post"), ("a", "article"),
                         ("p", "post"), ("", "article")):  # fmt: skip
        number = text.removeprefix(prefix)
        if text.startswith(prefix) and number.isdigit():
            return kind, int(number)
    raise UsageError(f"{raw!r} is not an article id (4, a4, article:4) or a post id (p12, post:12)")


def render(ctx: Context) -> int:
    kind, number = render_target(ctx.args.article_id)
    channel = ctx.args.channel
    if kind == "post":
        record = ctx.storage.get_post(number)
        if record is None:
            raise UsageError(f"no post with id {number}")
        if channel not in (None, record.channel):
            raise UsageError(f"post {number} is for channel {record.channel!r}, not {channel!r}")
        number, channel = record.article_id, record.channel
    article = ctx.storage.get_article(number)
    if article is None:
        raise UsageError(f"no article with id {number}")
    stored = {p.channel: p for p in ctx.storage.list_posts(article_id=article.id)}

    async def work(_client: Any, channels: dict[str, Channel]) -> int:
        names = [channel] if channel else list(channels)
        for name in names:
            if name not in channels:
                raise UsageError(f"no channel {name!r} in the config")
            record = stored.get(name)
            if record is not None:
                payload, note = record.payload, f"stored post {record.id} ({record.status.value})"
            else:
                payload, note = channels[name].render(article).payload, "not stored yet"
            accepted = channels[name].settings.accepts(article)
            print(f"== {name} — {note}" + ("" if accepted else " — routing does not send it here"))
            print(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0

    return int(_with_channels(ctx, work))


def _targets(ctx: Context, raw: str) -> tuple[int, str | None]:
    """(article id, channel or None for every open post) from "12"/"post:12" or "a7"/"article:7"."""
    text = raw.strip().lower()
    if text.startswith(("a", "article:")):
        number = text.removeprefix("article:").removeprefix("a")
        if not number.isdigit():
            raise UsageError(f"{raw!r} is not an article id (e.g. a7)")
        if not ctx.storage.list_posts(article_id=int(number)):
            raise UsageError(f"article {number} has no posts (see `syndicator posts`)")
        return int(number), None
    number = text.removeprefix("post:").removeprefix("p")
    if not number.isdigit():
        raise UsageError(f"{raw!r} is not a post id (e.g. 12) or an article id (e.g. a7)")
    record = ctx.storage.get_post(int(number))
    if record is None:
        raise UsageError(f"no post with id {number}")
    return record.article_id, record.channel


def _decide(ctx: Context, action: Action, reason: str | None = None) -> int:
    """Approve or reject through the same Decisions core as the bots (audited via=cli)."""
    import getpass

    article_id, channel = _targets(ctx, ctx.args.id)
    before = {p.id: p for p in ctx.storage.list_posts(article_id=article_id)}
    # Whoever can run the CLI on the server holds the database itself: the OS user is an
    # approver by construction. The CLI neither edits nor shows labels, so no rules or kinds.
    decisions = Decisions(
        ctx.storage, is_approver=lambda _a: True, is_admin=lambda _a: True, edit_rules={},
        kinds={},
    )  # fmt: skip
    user = getpass.getuser()
    result = decisions.apply(
        Request(action, article_id, channel=channel, text=reason), Actor("cli", user, user), ctx.now
    )
    moved_ids = {p.id for p in result.posts} if result.status == "done" else set()
    for post_id, old in before.items():
        if channel not in (None, old.channel):
            continue
        record = ctx.storage.get_post(post_id)
        assert record is not None
        if post_id in moved_ids:
            print(f"post {post_id} ({record.channel}): {record.status.value}")
        else:
            by = f" by {record.decided_by} at {iso(record.decided_at)}" if record.decided_by else ""
            print(
                f"post {post_id} ({record.channel}): already {record.status.value}{by}",
                file=sys.stderr,
            )
    return 0 if moved_ids else 1


def approve(ctx: Context) -> int:
    return _decide(ctx, Action.APPROVE)


def reject(ctx: Context) -> int:
    return _decide(ctx, Action.REJECT, ctx.args.reason)


def publish(ctx: Context) -> int:
    if not ctx.args.once:
        raise UsageError("continuous publishing runs inside the daemon: `syndicator run`")
    import daemon

    before = {p.id: p.status for p in ctx.storage.list_posts()}

    async def work(_client: Any, channels: dict[str, Channel]) -> int:
        publisher = daemon.build_publisher(ctx.settings, ctx.storage, channels)
        await publisher.run_once()
        return 0

    _with_channels(ctx, work)
    changed = [p for p in ctx.storage.list_posts() if before.get(p.id) != p.status]
    print_table(
        ["id", "article", "channel", "status", "external id", "error"],
        [
            (
                p.id,
                p.article_id,
                p.channel,
                p.status.value,
                p.external_id or "",
                shorten(p.last_error or "", 60),
            )
            for p in changed
        ],
    )
    from syndicator.cli.queue_cmds import print_idle

    # An empty table alone says nothing: name what holds back each channel that sent nothing.
    sent = {p.channel for p in changed if p.status == PostStatus.PUBLISHED}
    print_idle(ctx, daemon.channel_settings(ctx.settings), sent)
    waiting = ctx.storage.list_posts(status=list(OPEN))
    if waiting:
        print(f"{len(waiting)} post(s) wait for a decision (syndicator approve ID)")
    return 0


def channels_check(ctx: Context) -> int:
    from syndicator import secretbox

    statuses = ctx.storage.channel_statuses()

    async def work(_client: Any, channels: dict[str, Channel]) -> list[tuple[Any, ...]]:
        rows = []
        for name, channel in channels.items():
            try:
                state = await channel.check()
                cred = ("ok" if state.ok else "BROKEN") + f": {state.detail}"
                expires = iso(state.expires_at) or "-"
                ok = state.ok
            except SyndicatorError as exc:
                cred, expires, ok = f"unreachable: {exc}", "-", False
            st = statuses.get(name)
            rows.append(
                (name, channel.kind, st.status if st else ACTIVE, shorten(cred, 70), expires, ok)
            )
        return rows

    # Never refresh here: Zalo refresh tokens are single-use across processes, and spending
    # the pair the running daemon holds would pause its channel (api-notes 0).
    rows = _with_channels(ctx, work, may_refresh=False)
    print_table(["channel", "kind", "state", "credentials", "expires"], [r[:5] for r in rows])
    if secretbox.passphrase() is None:
        print(f"note: {secretbox.ENV} is not set: stored tokens are not encrypted", file=sys.stderr)
    return 0 if all(r[5] for r in rows) else 1


def set_token(ctx: Context) -> int:
    import daemon
    from channels import build_channel
    from channels.base import TokenSet

    name = ctx.args.channel
    cfgs = daemon.channel_settings(ctx.settings)
    if name not in cfgs:
        raise UsageError(f"no channel {name!r} in the config ({', '.join(cfgs) or 'none'})")
    if sys.stdin.isatty():
        print(
            f"Paste the new token for {name} and press Enter (it is not echoed to history):",
            file=sys.stderr,
        )
    token = sys.stdin.readline().strip()
    if not token:
        raise UsageError("no token on standard input")
    from syndicator.logs import register_secrets

    register_secrets([token])
    cfg = cfgs[name]
    storage, now = ctx.storage, ctx.now

    class Candidate(daemon.StorageTokenStore):
        def load(self, channel: str) -> TokenSet | None:
            return TokenSet("", token, None, now)

    async def work() -> Any:
        async with daemon.build_http_client(ctx.settings) as client:
            if cfg.kind == "facebook_page":  # type: ignore[attr-defined]
                channel = build_channel(
                    name, cfg.model_copy(update={"access_token": token}), client=client
                )
            else:
                channel = build_channel(name, cfg, client=client, token_store=Candidate(storage))
            return await channel.check()

    state = asyncio.run(work())
    if not state.ok:
        print(
            f"{name}: the new token does not work: {state.detail}; nothing changed", file=sys.stderr
        )
        return 1
    if cfg.kind == "facebook_page":  # type: ignore[attr-defined]
        storage.save_tokens(
            name,
            access_token=token,
            refresh_token=None,
            access_expires_at=state.expires_at,
            refresh_obtained_at=None,
            now=now,
            audit_as="channel.token_set",
            actor="cli",
        )
    else:
        storage.record_event(
            "channel.token_set",
            actor="cli",
            subject=f"channel:{name}",
            data={"kind": "zalo refresh token"},
            now=now,
        )
    resumed = storage.set_channel_status(
        name, ACTIVE, reason=None, actor="cli", now=now, only_from=(NEEDS_CREDENTIALS,)
    )
    print(
        f"{name}: token stored and checked ({state.detail})"
        + ("; channel resumed" if resumed else "")
    )
    if storage.channel_status(name).status == PAUSED:
        print(
            f"{name} is paused by a human; resume it with /resume {name} in the bot",
            file=sys.stderr,
        )
    return 0


def run(ctx: Context) -> int:
    import daemon

    asyncio.run(daemon.run(ctx.settings, config_path=ctx.config_file))
    return 0
