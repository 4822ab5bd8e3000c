"""`syndicator takedown` and `syndicator correct`: fixing what already went out.

Both act on live (published) posts only, are audited with the operator's name, and are exactly
once like publishing (see syndicator/publishing/aftercare.py). A take-down whose delete could
not be confirmed stays `removing` and the running daemon finishes it.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import TYPE_CHECKING, Any

from syndicator.cli.common import Context
from syndicator.errors import UsageError
from syndicator.publishing.aftercare import correct, take_down
from syndicator.storage import PostRecord
from syndicator.types import Post, PostStatus

if TYPE_CHECKING:
    from channels.base import Channel

S = PostStatus


def register(sub: Any) -> None:
    p = sub.add_parser(
        "takedown",
        help="take a published post (N) or every published post of an article (aN) down",
    )
    p.add_argument("id", metavar="POST_OR_ARTICLE_ID", help="a post id (12) or an article (a7)")
    p.add_argument("--reason", metavar="TEXT", required=True, help="why (kept in the audit trail)")
    p.set_defaults(handler=takedown)

    p = sub.add_parser(
        "correct",
        help="edit a published post: re-rendered from the current article, or your --text",
    )
    p.add_argument("id", metavar="POST_OR_ARTICLE_ID", help="a post id (12) or an article (a7)")
    p.add_argument(
        "--text",
        metavar="TEXT",
        help="new post text (Facebook message / Zalo description); default: re-render",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=correct_cmd)


def live_posts(ctx: Context, raw: str) -> list[PostRecord]:
    """The posts an id names: `12`/`post:12`, or every post of `a7`/`article:7` (the same
    reading as `approve` and `reject`)."""
    from syndicator.cli.posts import _targets

    article_id, channel = _targets(ctx, raw)
    found = ctx.storage.list_posts(article_id=article_id)
    return [p for p in found if channel is None or p.channel == channel]


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _channels(ctx: Context, work: Any) -> Any:
    import daemon

    async def go() -> Any:
        async with daemon.build_http_client(ctx.settings) as client:
            channels = daemon.build_channels(ctx.settings, ctx.storage, client)
            return await work(channels)

    return asyncio.run(go())


def takedown(ctx: Context) -> int:
    records = live_posts(ctx, ctx.args.id)
    reason = ctx.args.reason.strip()
    if not reason:
        raise UsageError("--reason must say why the post is taken down")
    live = [r for r in records if r.status == S.PUBLISHED]
    for r in records:
        if r.status != S.PUBLISHED:
            print(
                f"post {r.id} ({r.channel}): {r.status.value}, not live — skipped", file=sys.stderr
            )
    if not live:
        return 1

    async def work(channels: dict[str, Channel]) -> list[bool]:
        results = []
        for record in live:
            done = await take_down(
                ctx.storage, channels, record, actor=_actor(), reason=reason, now=ctx.now, via="cli"
            )
            print(done.message, file=sys.stdout if done.ok else sys.stderr)
            results.append(done.ok)
        return results

    return 0 if all(_channels(ctx, work)) else 1


def correct_cmd(ctx: Context) -> int:
    records = [r for r in live_posts(ctx, ctx.args.id) if r.status == S.PUBLISHED]
    if not records:
        raise UsageError(f"{ctx.args.id}: no live post to correct (see `syndicator posts`)")
    article = ctx.storage.get_article(records[0].article_id)
    if article is None:
        raise UsageError(f"article {records[0].article_id} is gone")

    async def work(channels: dict[str, Channel]) -> int:
        failures = 0
        for record in records:
            channel = channels.get(record.channel)
            if channel is None:
                print(
                    f"post {record.id}: channel {record.channel} is not configured", file=sys.stderr
                )
                failures += 1
                continue
            new = _new_post(ctx, record, channel, article)
            if new.payload == record.payload:
                print(f"post {record.id} ({record.channel}): already shows this text")
                continue
            print(f"== post {record.id} ({record.channel}) now shows:\n{record.preview_text}\n")
            print(f"== after the correction:\n{new.preview_text}\n")
            if not ctx.args.yes and not _confirm():
                print(f"post {record.id}: not corrected", file=sys.stderr)
                failures += 1
                continue
            done = await correct(
                ctx.storage, channel, record, new, actor=_actor(), now=ctx.now, via="cli"
            )
            print(done.message, file=sys.stdout if done.ok else sys.stderr)
            failures += not done.ok
        return 1 if failures else 0

    return int(_channels(ctx, work))


def _new_post(ctx: Context, record: PostRecord, channel: Channel, article: Any) -> Post:
    """The corrected post: the operator's text in the channel's text field, or a re-render."""
    from dataclasses import replace

    from syndicator.approval.edits import EditError, apply_edit, default_rules

    if ctx.args.text is None:
        rendered = channel.render(article)
        # The channel decides the shape; a photo post stays a photo post (Graph cannot turn
        # one into the other by an edit).
        payload = {
            **record.payload,
            **{k: v for k, v in rendered.payload.items() if k in record.payload},
        }
        return replace(record.post, payload=payload, preview_text=rendered.preview_text)
    rule = default_rules().get(channel.kind)
    if rule is None:
        raise UsageError(f"channel kind {channel.kind} has no editable text")
    text = ctx.args.text
    if channel.kind == "facebook_page" and article.canonical_url not in text:
        # Reconcile and readers both need the article link in a Facebook post's text.
        text = f"{text.rstrip()}\n\nXem chi tiết: {record.payload.get('link') or article.url}"
        print("note: the article link was added at the end of the text", file=sys.stderr)
    try:
        return apply_edit(record, rule, text)
    except EditError as exc:
        raise UsageError(f"--text: {exc.reason} ({exc.length}/{exc.limit} characters)") from exc


def _confirm() -> bool:
    if not sys.stdin.isatty():
        raise UsageError("add --yes to correct without a terminal to confirm on")
    return input("Publish this correction? [y/N] ").strip().lower() in ("y", "yes", "c", "có")
