"""Set-up helpers: find the Telegram ids and the feed URLs instead of guessing them.

`syndicator telegram discover` reads the bot's pending updates for a while and prints the chats
it is in and the people who wrote, ready for `chat_id`, `approvers` and `admins`.
`syndicator sources discover URL` reads a homepage, follows the feeds it advertises and prints a
`[[sources]]` block for each, saying whether our parsers read it.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import tomli_w

from syndicator.cli.common import Context, print_table
from syndicator.config import FetchSettings
from syndicator.errors import ConfigError, SyndicatorError, UsageError

# Update kinds that name a chat or a person; passed explicitly because Telegram otherwise
# keeps the previous call's allowed_updates (Bot API getUpdates; the daemon sets its own).
DISCOVER_UPDATES = ["message", "edited_message", "channel_post", "my_chat_member",
                    "callback_query"]  # fmt: skip
MAX_SECONDS = 600
POLL_SECONDS = 10  # one long poll; the loop stops at --seconds
HTML_MAX = 2 * 1024 * 1024  # a homepage larger than this is not read further
FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/atom+xml": "rss",  # the rss kind reads Atom too
    "application/feed+json": "json",  # JSON Feed 1.1 (jsonfeed.org/version/1.1)
    "application/json": "json",  # older JSON Feed pages
}
# JSON Feed 1.1 field names as a [sources.mapping] (jsonfeed.org/version/1.1).
JSON_FEED_MAPPING = {"items": "items", "id": "id", "title": "title", "url": "url",
                     "summary": "summary", "content": "content_html", "image": "image",
                     "published": "date_published", "category": "tags"}  # fmt: skip


def register(sub: Any) -> None:
    p = sub.add_parser("telegram", help="Telegram set-up helpers")
    tsub = p.add_subparsers(dest="telegram_command", required=True, metavar="ACTION")
    d = tsub.add_parser(
        "discover",
        help="list the chats the bot is in and the people who wrote to it",
        description="Reads the bot's pending updates (getUpdates with [approval] bot_token and "
        "api_base) for up to --seconds and prints the chats (id, type, title) and the users "
        "(id, name), to copy into chat_id, admin_chat_id, approvers and admins. Write any "
        "message or /whoami in the group (or add the bot to it) while it runs. It never "
        "confirms an update (no offset is sent), so nothing is taken from the daemon; but "
        "Telegram allows one getUpdates at a time per bot, so stop a running daemon first. "
        "It refuses when a webhook is set (Telegram answers 409 then).",
    )
    d.add_argument("--seconds", type=int, default=60, help="how long to listen (default 60)")
    d.set_defaults(handler=telegram_discover)

    # `syndicator sources` (the health table) already exists: add the action under it.
    sources = sub.choices.get("sources") or sub.add_parser("sources", help="sources")
    ssub = sources.add_subparsers(dest="sources_command", metavar="ACTION")
    s = ssub.add_parser(
        "discover",
        help="find the feeds a homepage advertises and print [[sources]] blocks",
        description='Fetches URL, lists its <link rel="alternate"> feeds (RSS, Atom, JSON '
        "Feed), fetches each, says whether it parses and how many items it has, and prints "
        "a ready-to-paste [[sources]] block. Size and time are bounded by [fetch].",
    )
    s.add_argument("url", metavar="URL")
    s.set_defaults(handler=sources_discover)


# -- telegram discover ------------------------------------------------------------------------


@dataclass
class Found:
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, update: dict[str, Any]) -> None:
        """Take the chat and the people an update names (messages, membership changes)."""
        for kind in DISCOVER_UPDATES:
            item = update.get(kind)
            if not isinstance(item, dict):
                continue
            chat = item.get("chat") or (item.get("message") or {}).get("chat")
            if isinstance(chat, dict) and "id" in chat:
                self.chats[int(chat["id"])] = chat
            person = item.get("from")
            if isinstance(person, dict) and "id" in person and not person.get("is_bot"):
                self.users[int(person["id"])] = person
            if item.get("migrate_to_chat_id"):  # a group became a supergroup: new id
                self.notes.append(
                    f"group {chat and chat.get('id')} became supergroup "
                    f"{item['migrate_to_chat_id']}: use the new id"
                )


def _telegram_error(data: dict[str, Any]) -> SyndicatorError:
    code, text = data.get("error_code"), str(data.get("description", ""))
    if code == 409 and "webhook" in text.lower():
        return SyndicatorError(
            "Telegram refuses getUpdates while a webhook is set for this bot (409). Read the "
            "ids from the webhook's logs, or delete the webhook (deleteWebhook) if nothing "
            "uses it, then run discover again"
        )
    if code == 409:
        return SyndicatorError(
            "another program is reading this bot's updates (409; the running daemon?): stop "
            "it for a minute, run discover, then start it again"
        )
    if code in (401, 404):
        return SyndicatorError(f"Telegram refused the bot token ({code} {text}): check bot_token")
    return SyndicatorError(f"Telegram answered {code}: {text}")


async def discover_updates(api_base: str, token: str, seconds: int) -> Found:
    """Read pending updates for up to `seconds`, never confirming any (no offset)."""
    found, seen = Found(), set()
    url = f"{api_base}{token}/getUpdates"
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient() as client:  # honours HTTPS_PROXY (Telegram is blocked in VN)
        while (remaining := deadline - time.monotonic()) > 0:
            wait = int(min(POLL_SECONDS, remaining))
            try:
                response = await client.post(
                    url, json={"timeout": wait, "allowed_updates": DISCOVER_UPDATES},
                    timeout=wait + 15,
                )  # fmt: skip
                data = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise SyndicatorError(f"cannot reach Telegram at {api_base}: {exc}") from exc
            if not data.get("ok"):
                raise _telegram_error(data)
            fresh = [u for u in data.get("result", []) if u.get("update_id") not in seen]
            for update in fresh:
                seen.add(update.get("update_id"))
                found.add(update)
            if data.get("result") and not fresh:
                # Unconfirmed updates come back at once on every call: wait instead of spinning.
                await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            elif wait == 0:
                break
    return found


def telegram_discover(ctx: Context) -> int:
    seconds = ctx.args.seconds
    if not 1 <= seconds <= MAX_SECONDS:
        raise UsageError(f"--seconds must be between 1 and {MAX_SECONDS}")
    approval = ctx.settings.approval
    if not approval.bot_token:
        raise ConfigError("[approval] bot_token is not set: create the bot with @BotFather first")
    print(
        f"listening for {seconds}s: write /whoami in the staff group and in the admin chat "
        "(and privately to the bot)…",
        file=sys.stderr,
    )
    found = asyncio.run(discover_updates(approval.api_base, approval.bot_token, seconds))
    if not found.chats and not found.users:
        print("nothing was written to the bot meanwhile; write /whoami and run it again")
        return 1
    print("chats (copy the id into [approval] chat_id / admin_chat_id):")
    print_table(
        ["id", "type", "title"],
        [(cid, c.get("type", ""), _chat_title(c)) for cid, c in sorted(found.chats.items())],
    )
    print("\nusers who wrote (copy ids into approvers / admins):")
    print_table(
        ["id", "name", "username"],
        [(uid, _name(u), "@" + u["username"] if u.get("username") else "")
         for uid, u in sorted(found.users.items())],
    )  # fmt: skip
    if any(c.get("type") == "group" for c in found.chats.values()):
        print("\nnote: a basic group's id changes when Telegram upgrades it to a supergroup; "
              "run discover again after such a change")  # fmt: skip
    for note in found.notes:
        print(f"note: {note}")
    return 0


def _chat_title(chat: dict[str, Any]) -> str:
    return str(chat.get("title") or _name(chat))


def _name(person: dict[str, Any]) -> str:
    return " ".join(str(person[k]) for k in ("first_name", "last_name") if person.get(k))


# -- sources discover -------------------------------------------------------------------------


class _Links(HTMLParser):
    """`<link rel="alternate" type=... href=...>`, `<base href>` and the page `<title>`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.feeds: list[tuple[str, str, str]] = []  # (href, type, title)
        self.base: str | None = None
        self.title, self._in_title = "", False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and a.get("href") and self.base is None:
            self.base = a["href"]
        elif tag == "link" and "alternate" in a.get("rel", "").lower().split():
            kind = a.get("type", "").split(";")[0].strip().lower()
            if kind in FEED_TYPES and a.get("href"):
                self.feeds.append((a["href"].strip(), kind, a.get("title", "").strip()))
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def advertised_feeds(html: str, page_url: str) -> tuple[list[tuple[str, str, str]], str]:
    """The feeds a page advertises as absolute URLs (deduplicated), and the page title."""
    parser = _Links()
    parser.feed(html)
    base = urljoin(page_url, parser.base) if parser.base else page_url
    out, seen = [], set()
    for href, kind, title in parser.feeds:
        url = urljoin(base, href)
        if url not in seen and urlsplit(url).scheme in ("http", "https"):
            seen.add(url)
            out.append((url, kind, title))
    return out, " ".join(parser.title.split())


def source_id(url: str, taken: set[str]) -> str:
    """A config id from the host and the feed's path: "stc-tin-tuc" (ASCII, lower case)."""
    parts = urlsplit(url)
    host = parts.netloc.split(":")[0].split(".")
    head = host[1] if host[0] == "www" and len(host) > 1 else host[0]
    tail = parts.path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    text = unicodedata.normalize("NFD", f"{head}-{tail}".replace("đ", "d").replace("Đ", "D"))
    text = re.sub(r"[^a-z0-9]+", "-", text.encode("ascii", "ignore").decode().lower()).strip("-")
    candidate, n = text or "feed", 2
    while candidate in taken:
        candidate, n = f"{text}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _parse(body: bytes, headers: dict[str, str], url: str, kind: str) -> tuple[int, str | None]:
    if kind == "json":
        from syndicator.sources.jsonapi import parse_json

        result = parse_json(body, JSON_FEED_MAPPING, url)
    else:
        from syndicator.sources.rss import parse_feed

        result = parse_feed(body, headers, url)
    return len(result.entries), result.error


async def _discover_sources(url: str, fetch: FetchSettings) -> tuple[list[dict[str, Any]], str]:
    from syndicator.sources.fetch import Fetcher, build_client

    client = build_client(
        user_agent=fetch.user_agent, connect_timeout=fetch.connect_timeout.total_seconds(),
        read_timeout=fetch.read_timeout.total_seconds(), transport="httpx",
    )  # fmt: skip
    async with client:
        page = await Fetcher(client, max_body_bytes=min(HTML_MAX, fetch.max_body_bytes),
                             accept="text/html, */*;q=0.5").fetch(url)  # fmt: skip
        if not page.ok or (page.status or 0) >= 400:
            raise SyndicatorError(f"cannot read {url}: {page.error or f'HTTP {page.status}'}")
        html = page.body.decode("utf-8", errors="replace")
        feeds, title = advertised_feeds(html, page.final_url or url)
        fetcher = Fetcher(client, max_body_bytes=fetch.max_body_bytes)
        results = await asyncio.gather(*(fetcher.fetch(u) for u, _, _ in feeds))
    out = []
    for (feed_url, kind, feed_title), got in zip(feeds, results, strict=True):
        error: str | None
        if not got.ok or (got.status or 0) >= 400:
            items, error = 0, got.error or f"HTTP {got.status}"
        else:
            items, error = _parse(got.body, got.headers, feed_url, FEED_TYPES[kind])
        out.append({"url": feed_url, "type": kind, "title": feed_title, "items": items,
                    "error": error, "kind": FEED_TYPES[kind]})  # fmt: skip
    return out, title


def sources_discover(ctx: Context) -> int:
    url = ctx.args.url.strip()
    if not re.match(r"^https?://[^\s/]+", url):
        raise UsageError(f"{url!r} is not an http(s) URL")
    try:
        fetch = ctx.settings.fetch
    except ConfigError as exc:  # a set-up helper works before the config does
        print(f"note: using default [fetch] settings ({exc})", file=sys.stderr)
        fetch = FetchSettings()
    feeds, title = asyncio.run(_discover_sources(url, fetch))
    if not feeds:
        print(f'{url} advertises no feed (no <link rel="alternate" type="application/rss+xml">); '
              "look for an RSS link on the page or ask the site's administrator")  # fmt: skip
        return 1
    taken: set[str] = set()
    for i, feed in enumerate(feeds, 1):
        verdict = (f"parses: {feed['items']} item(s)" if not feed["error"]
                   else f"DOES NOT PARSE: {feed['error']}")  # fmt: skip
        print(f"# feed {i}: {feed['url']} ({feed['type']}) — {verdict}")
        block: dict[str, Any] = {"id": source_id(feed["url"], taken),
                                 "name": feed["title"] or title or feed["url"],
                                 "agency": title or "", "kind": feed["kind"], "url": feed["url"],
                                 "interval": "5m"}  # fmt: skip
        if feed["kind"] == "json":
            block["mapping"] = JSON_FEED_MAPPING
        text = tomli_w.dumps({"sources": [block]})
        if feed["error"]:  # pasted as is it stays off until someone looks
            text = "".join(f"# {line}\n" for line in text.splitlines())
        print(text)
    print('# check `agency` (the publishing agency, shown as "Nguồn: ...") before pasting')
    return 0 if any(not f["error"] for f in feeds) else 1
