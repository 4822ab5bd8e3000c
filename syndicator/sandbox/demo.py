"""`syndicator demo`: the whole job end to end on local stand-ins, with no credentials.

It starts the stand-ins, runs the real daemon (in this process, on a temporary SQLite file),
releases sample articles on the portal, and plays two approvers: one taps the real "Duyệt"
buttons through the Telegram stand-in, the other (who has no Telegram) links her Zalo account
with a one-time code and answers `duyệt N` to one preview through the Zalo Bot stand-in.
It prints a timeline from the audit trail and the stand-ins.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import daemon
from syndicator import secretbox
from syndicator.cli.approvers_cmds import new_code
from syndicator.config import parse_config
from syndicator.sandbox.world import (
    APPROVER,
    APPROVER_NAME,
    STAFF_CHAT,
    ZALO_APPROVER,
    ZALO_APPROVER_NAME,
    SandboxWorld,
)
from syndicator.storage import open_storage

Print = Callable[[str], None]
ZALO_HEADER = re.compile(r"[Bb]ài số (\d+) chờ duyệt")  # zalo_bot/texts.py HEADER, HEADER_URGENT
ZALO_WAIT = 30.0  # seconds the Telegram approver leaves the first article to the Zalo one


@dataclass
class Timeline:
    out: Print
    started: float = field(default_factory=time.monotonic)
    titles: dict[int, str] = field(default_factory=dict)
    live: dict[int, dict[str, str]] = field(default_factory=dict)  # article → channel → id
    held: set[int] = field(default_factory=set)
    seen_events: int = 0
    seen_messages: set[int] = field(default_factory=set)
    zalo_article: int | None = None  # the article the Zalo approver decides

    def say(self, text: str) -> None:
        self.out(f"[{time.monotonic() - self.started:6.1f}s] {text}")


def _approve_button(message: dict[str, Any]) -> str | None:
    """The callback data of the approve-everything button, if the message still has one."""
    markup = message.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for button in row:
            text, data = button.get("text", ""), button.get("callback_data")
            if data and "Duyệt" in text and not text.startswith(("Bỏ", "Không")):
                return str(data)
    return None


async def _approver(
    world: SandboxWorld, timeline: Timeline, storage: Any, stop: asyncio.Event
) -> None:
    """A staff member who reads each new preview, then taps "Duyệt" (leaving the article her
    Zalo colleague answers to her, so the demo shows one decision made in Zalo)."""
    tapped: set[int] = set()
    waiting_since: float | None = None
    while not stop.is_set():
        for message in world.telegram.chat_messages(STAFF_CHAT):
            mid = int(message["message_id"])
            if mid not in timeline.seen_messages:
                timeline.seen_messages.add(mid)
                first = (message.get("text") or message.get("caption") or "").splitlines()
                timeline.say(
                    f"preview sent to the staff group (message {mid}): {first[0][:70] if first else ''}"
                )
            data = _approve_button(message)
            text = message.get("text") or message.get("caption") or ""
            if data and mid not in tapped and "⛔" in text:
                tapped.add(mid)  # a careful editor leaves a secrecy-marked article alone
                timeline.say(
                    f"{APPROVER_NAME} sees the secrecy warning on message {mid} and does not approve it"
                )
                continue
            if data and mid not in tapped:
                waiting_since = waiting_since or time.monotonic()
                if timeline.zalo_article is None and time.monotonic() - waiting_since < ZALO_WAIT:
                    continue  # the Zalo colleague has not picked her article yet
                preview = await asyncio.to_thread(storage.find_preview, STAFF_CHAT, mid)
                if preview is not None and preview.article_id == timeline.zalo_article:
                    continue  # decided in Zalo: the stamp arrives on this message instead
                await asyncio.sleep(1.0)  # a human reads before tapping
                tapped.add(mid)
                world.telegram.inject_callback(
                    STAFF_CHAT, mid, APPROVER, data, first_name=APPROVER_NAME
                )
                timeline.say(f"{APPROVER_NAME} taps “Duyệt” on message {mid}")
        await asyncio.sleep(0.3)


async def _zalo_approver(world: SandboxWorld, timeline: Timeline, code: str,
                         stop: asyncio.Event) -> None:  # fmt: skip
    """A colleague with Zalo only: links her account with the one-time code, then answers
    `duyệt N` to the first preview the bot sends her (a secrecy-marked one she leaves)."""
    bot, me = world.zalo_bot, ZALO_APPROVER
    bot.inject_message(me, f"lien ket {code}", name=ZALO_APPROVER_NAME)
    timeline.say(f"{ZALO_APPROVER_NAME} sends “lien ket {code}” to the Zalo bot")
    seen = 0
    while not stop.is_set():
        messages = bot.bot_messages(me)
        for message in messages[seen:]:
            text = message.get("text") or message.get("caption") or ""
            timeline.say(f"Zalo bot → {ZALO_APPROVER_NAME}: {text.splitlines()[0][:80]}")
            found = ZALO_HEADER.search(text)
            if found and timeline.zalo_article is None and "⛔" not in text:
                number = int(found.group(1))
                timeline.zalo_article = number
                await asyncio.sleep(1.0)  # she reads it first
                bot.inject_message(me, f"duyệt {number}", name=ZALO_APPROVER_NAME)
                timeline.say(f"{ZALO_APPROVER_NAME} answers “duyệt {number}” in Zalo")
        seen = len(messages)
        await asyncio.sleep(0.3)


def _follow_audit(storage: Any, timeline: Timeline) -> None:
    for event in list(storage.audit_events())[timeline.seen_events :]:
        timeline.seen_events += 1
        import json

        data = json.loads(event.data)
        if event.kind == "article.new":
            article = storage.get_article(int(event.subject.split(":")[1]))
            title = article.title if article else "?"
            timeline.titles[int(event.subject.split(":")[1])] = title
            flags = f" [{', '.join(data.get('flags') or [])}]" if data.get("flags") else ""
            timeline.say(f"article found on {data.get('source')}: {title[:70]}{flags}")
        elif event.kind == "post.created" and data.get("status") == "held":
            timeline.held.add(int(data["article"]))
            timeline.say(
                f"post {event.subject} held for a human: secrecy marker, never auto-published"
            )
        elif event.kind == "post.approved":
            via = " in Zalo" if data.get("via") == "zalo_bot" else ""
            timeline.say(f"{event.subject} ({data.get('channel')}) approved{via} by {event.actor}")
        elif event.kind == "post.published":
            art = int(data["article"])
            timeline.live.setdefault(art, {})[data["channel"]] = data["external_id"]
            where = "Facebook (post id" if data["channel"] == "facebook" else "Zalo OA (article id"
            timeline.say(f"live on {where} {data['external_id']}) — {event.subject}")
        elif event.kind in ("post.failed", "post.needs_human", "channel.needs_credentials"):
            timeline.say(f"{event.kind}: {event.subject} {data.get('error') or data.get('reason')}")


async def run_demo(
    *, articles: int = 4, keep_running: bool = False, timeout: float = 150.0, out: Print = print
) -> int:
    """Run the demo; 0 when every released article went live on both channels."""
    world = SandboxWorld()
    await world.start()
    timeline = Timeline(out)
    with tempfile.TemporaryDirectory(prefix="syndicator-demo-") as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        # Stored Zalo tokens are encrypted even here: a throwaway key, unless one is set.
        if not os.environ.get(secretbox.ENV):
            os.environ[secretbox.ENV] = secretbox.throwaway_key(Path(tmp) / "demo.key")
        settings = parse_config(world.config(url, interval="10s"))
        out(
            f"syndicator demo — stand-ins: portal {world.portal.base_url}, Graph {world.graph.base_url}, "
            f"Zalo {world.zalo.base_url}, Telegram {world.telegram.base_url}, "
            f"Zalo Bot {world.zalo_bot.base_url}"
        )
        out(f"database {url} (temporary); approver {APPROVER_NAME} (Telegram id {APPROVER})")
        reader = open_storage(url)
        # What `syndicator approvers add NAME` does: an approver and a one-time link code.
        now, code = datetime.now(UTC), new_code()
        reader.add_approver(ZALO_APPROVER_NAME, is_admin=False, actor="demo", now=now)
        reader.issue_link_code(ZALO_APPROVER_NAME, code, expires_at=now + timedelta(hours=1),
                               actor="demo", now=now)  # fmt: skip
        out(f"approver {ZALO_APPROVER_NAME} (Zalo only) added; link code {code}")
        stop = asyncio.Event()
        runner = asyncio.create_task(daemon.run(settings, stop=stop))
        approvers = [asyncio.create_task(_approver(world, timeline, reader, stop)),
                     asyncio.create_task(_zalo_approver(world, timeline, code, stop))]  # fmt: skip
        deadline = time.monotonic() + timeout
        released: list[str] = []
        next_release = time.monotonic() + 1.0
        try:
            while True:
                if runner.done():
                    runner.result()  # the daemon stopped on its own: show why
                    return 1
                if (keep_running or len(released) < articles) and time.monotonic() >= next_release:
                    art = world.sample.release(datetime.now(UTC))
                    if art:
                        released.append(art["title"])
                        timeline.say(f"portal publishes: {art['title'][:70]}")
                    next_release = time.monotonic() + 4.0
                await asyncio.to_thread(_follow_audit, reader, timeline)
                wanted = [a for a in timeline.titles if a not in timeline.held]
                done = [a for a in wanted if len(timeline.live.get(a, {})) == 2]
                if (
                    not keep_running
                    and len(released) >= articles
                    and wanted
                    and len(done) == len(wanted)
                    and len(timeline.titles) >= len(released)
                ):
                    break
                if not keep_running and time.monotonic() > deadline:
                    out("demo timed out before every article went live")
                    break
                await asyncio.sleep(0.5)
        except (KeyboardInterrupt, asyncio.CancelledError):
            pass
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner, 15)
            for task in approvers:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            verified = reader.verify_audit()
            reader.close()
            await world.stop()
        wanted = [a for a in timeline.titles if a not in timeline.held]
        done = [a for a in wanted if len(timeline.live.get(a, {})) == 2]
        out("")
        out("summary")
        out(f"  articles found:            {len(timeline.titles)}")
        out(f"  live on Facebook and Zalo: {len(done)} of {len(wanted)}")
        out(f"  held for a human:          {len(timeline.held)}")
        zalo = f"article {timeline.zalo_article}" if timeline.zalo_article else "none"
        out(f"  approved through Zalo:     {zalo}")
        out(f"  Facebook Page posts:       {len(world.graph.live_posts())}")
        out(f"  Zalo OA articles:          {len(world.zalo.live_articles())}")
        out(
            f"  audit trail:               {'intact' if verified.ok else 'BROKEN'} ({verified.checked} events)"
        )
        ok = bool(wanted) and len(done) == len(wanted) and verified.ok
        ok = ok and timeline.zalo_article in done  # the Zalo approval went live too
        return 0 if ok else 1
