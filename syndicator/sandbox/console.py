"""The training console: one local web page showing what staff and citizens would see.

Trainees practise on the real bot without a real Telegram group, Page or OA: the page shows
(a) the staff group as the Telegram stand-in holds it, with each message's inline keyboard as
buttons, (b) the Facebook Page's posts as the Graph stand-in received them, and (c) the Zalo
OA's articles. A button press goes through `TelegramServer.inject_callback` as the configured
trainee, and a reply through `inject_message`, so the real bot handles them exactly as it would
a press in Telegram.

Telegram messages are rendered from the stored plain text and entities, not from the HTML the
bot sent: every tag on the page is one this module wrote, around escaped text, so nothing the
bot (or an article title) contains can inject markup into the console.

The console acts as a staff member, so another site the trainee has open must not be able to
press buttons for them (a cross-site POST) or read the room through DNS rebinding. Every
request must name this server in `Host`; every POST must be `application/json` (an HTML form
cannot send that without a CORS preflight, which this server never grants), come from this
origin (`Origin`, `Sec-Fetch-Site` when the browser sends them) and carry the per-run token the
page was served with (`X-Console-Token`, from the page's `<meta name="console-token">`).
"""

from __future__ import annotations

import html
import itertools
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from syndicator.sandbox.common import SandboxServer, json_response
from syndicator.sandbox.graph import GraphServer
from syndicator.sandbox.telegram import TelegramServer
from syndicator.sandbox.zalo import ZaloServer

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
SAFE_NAME = re.compile(r"^[a-z0-9_-]+\.(html|js|css)$")
# entity type → (opening tag, closing tag); text_link is handled apart for its href
TAGS = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ('<span class="spoiler">', "</span>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
}


def render_entities(text: str, entities: list[dict[str, Any]]) -> str:
    """Telegram plain text + entities (UTF-16 offsets) → safe HTML.

    The text is cut at every entity boundary and each piece is wrapped in the tags of the
    entities covering it, so the output is always well nested, whatever the entities overlap.
    """
    units = text.encode("utf-16-le")
    cuts = {0, len(units) // 2}
    for entity in entities:
        cuts.update((entity["offset"], entity["offset"] + entity["length"]))
    points = sorted(c for c in cuts if 0 <= c <= len(units) // 2)
    out: list[str] = []
    for start, end in itertools.pairwise(points):
        piece = units[start * 2 : end * 2].decode("utf-16-le", errors="replace")
        chunk = html.escape(piece).replace("\n", "<br>")
        covering = [
            e for e in entities if e["offset"] <= start and end <= e["offset"] + e["length"]
        ]
        for entity in sorted(covering, key=lambda e: (-e["offset"], e["length"])):
            chunk = _wrap(entity, chunk)
        out.append(chunk)
    return "".join(out)


def _wrap(entity: dict[str, Any], inner: str) -> str:
    kind = entity.get("type")
    if kind == "text_link":
        url = str(entity.get("url", ""))
        if not url.startswith(("http://", "https://", "tg://")):
            return inner  # a javascript: or data: URL never becomes a link
        href = html.escape(url, quote=True)
        return f'<a href="{href}" target="_blank" rel="noopener noreferrer">{inner}</a>'
    if kind in TAGS:
        opening, closing = TAGS[kind]
        return f"{opening}{inner}{closing}"
    return inner  # mentions, hashtags, commands: plain text is enough here


class ConsoleServer(SandboxServer):
    """The console page and its JSON API, beside the three stand-ins it reads."""

    name = "console"

    def __init__(
        self,
        telegram: TelegramServer,
        graph: GraphServer,
        zalo: ZaloServer,
        *,
        staff_chat_id: int,
        trainee_id: int,
        admin_chat_id: int | None = None,
        trainee_name: str = "Học viên",
        bot_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.telegram = telegram
        self.graph = graph
        self.zalo = zalo
        self.chat_id = int(staff_chat_id)
        # The admin chat is shown read-only: trainees see the alerts an admin would get
        # (issue 14), but act only in the staff group.
        self.admin_chat_id = None if admin_chat_id is None else int(admin_chat_id)
        self.trainee_id = int(trainee_id)
        self.trainee_name = trainee_name
        self.bot_token = bot_token
        self.token = secrets.token_urlsafe(24)  # per run; only the served page knows it

    def add_routes(self, app: web.Application) -> None:
        app.middlewares.append(self._guard)
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/api/state", self._api_state)
        app.router.add_post("/api/press", self._api_press)
        app.router.add_post("/api/send", self._api_send)

    # -- what the page shows ------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat_id,
            "trainee": {"id": self.trainee_id, "name": self.trainee_name},
            "telegram": self.telegram_messages(),
            "admin": self.telegram_messages(self.admin_chat_id)
            if self.admin_chat_id is not None
            else [],
            "facebook": self.facebook_posts(),
            "zalo": self.zalo_articles(),
        }

    def telegram_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        out = []
        chat = self.chat_id if chat_id is None else chat_id
        for message in self.telegram.chat_messages(chat, self.bot_token):
            if message.get("deleted"):
                continue
            text = message.get("text") or message.get("caption") or ""
            entities = message.get("entities") or message.get("caption_entities") or []
            markup = message.get("reply_markup") or {}
            sender = message.get("from") or {}
            out.append(
                {
                    "id": message["message_id"],
                    "from": sender.get("first_name") or sender.get("username") or "?",
                    "is_bot": bool(sender.get("is_bot")),
                    "time": _hhmm(message.get("date")),
                    "html": render_entities(text, entities),
                    "photo": bool(message.get("photo")),
                    "edited": message.get("edit_date") is not None,
                    "reply_to": (message.get("reply_to_message") or {}).get("message_id"),
                    "buttons": _buttons(markup),
                    "force_reply": bool(markup.get("force_reply")),
                    "placeholder": markup.get("input_field_placeholder"),
                }
            )
        return out

    def facebook_posts(self) -> list[dict[str, Any]]:
        posts = sorted(self.graph.live_posts(), key=lambda p: p.created_time, reverse=True)
        return [
            {
                "id": post.id,
                "message": post.message,
                "link": post.link,
                "image": post.image,
                "time": _hhmm(post.created_time),
                "published": post.is_published,
                "scheduled": post.scheduled_publish_time,
            }
            for post in posts
        ]

    def zalo_articles(self) -> list[dict[str, Any]]:
        return [
            {
                "id": article.id,
                "title": article.title,
                "description": article.description,
                "author": article.author,
                "cover": (article.cover or {}).get("photo_url"),
                "body": [
                    block.get("content") or block.get("url") or ""
                    for block in article.body
                    if isinstance(block, dict)
                ],
                "status": article.status,
                "time": _hhmm(article.create_date / 1000),
            }
            for article in self.zalo.live_articles()
        ]

    # -- routes -------------------------------------------------------------------------------

    def allowed_hosts(self) -> set[str]:
        port = self.base_url.rsplit(":", 1)[1]
        return {f"{name}:{port}" for name in (self.host, "127.0.0.1", "localhost", "[::1]")}

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Host on every request; JSON, same origin and the page's token on every POST."""
        if request.headers.get("Host", "").lower() not in self.allowed_hosts():
            return json_response({"ok": False, "error": "unknown Host"}, 421)
        if request.method != "POST":
            return await handler(request)
        if request.content_type != "application/json":
            return json_response({"ok": False, "error": "JSON only"}, 415)
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{request.headers['Host'].lower()}":
            return json_response({"ok": False, "error": "cross-origin request refused"}, 403)
        if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return json_response({"ok": False, "error": "cross-site request refused"}, 403)
        sent = request.headers.get("X-Console-Token", "")
        if not secrets.compare_digest(sent.encode(), self.token.encode()):
            return json_response({"ok": False, "error": "missing or wrong console token"}, 403)
        return await handler(request)

    async def _index(self, request: web.Request) -> web.StreamResponse:
        page = (STATIC / "console.html").read_text(encoding="utf-8")
        meta = f'<meta name="console-token" content="{html.escape(self.token, quote=True)}">'
        page = page.replace("</head>", f"  {meta}\n</head>", 1)
        return web.Response(text=page, headers=_no_store("text/html"))

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = STATIC / name
        if not SAFE_NAME.match(name) or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers=_no_store(STATIC_TYPES[path.suffix]))

    async def _api_state(self, request: web.Request) -> web.Response:
        return json_response(self.state(), headers={"Cache-Control": "no-store"})

    async def _api_press(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        try:
            message_id, data = int(body["message_id"]), str(body["data"])
        except (KeyError, TypeError, ValueError):
            return json_response({"ok": False, "error": "message_id and data are needed"}, 400)
        query_id = self.telegram.inject_callback(
            self.chat_id, message_id, user_id=self.trainee_id, data=data,
            first_name=self.trainee_name, token=self.bot_token,
        )  # fmt: skip
        return json_response({"ok": True, "callback_query_id": query_id})

    async def _api_send(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        text = str(body.get("text") or "").strip()
        if not text:
            return json_response({"ok": False, "error": "Hãy nhập nội dung"}, 400)
        reply_to = body.get("reply_to")
        try:
            message_id = self.telegram.inject_message(
                self.chat_id, self.trainee_id, text,
                reply_to_message_id=int(reply_to) if reply_to else None,
                first_name=self.trainee_name, token=self.bot_token,
            )  # fmt: skip
        except Exception as exc:  # the message to reply to is gone: tell the trainee
            return json_response({"ok": False, "error": str(exc)}, 400)
        return json_response({"ok": True, "message_id": message_id})


def _buttons(markup: dict[str, Any]) -> list[list[dict[str, str]]]:
    rows = []
    for row in markup.get("inline_keyboard") or []:
        buttons = []
        for button in row:
            if "callback_data" in button:
                buttons.append({"text": button["text"], "data": button["callback_data"]})
            elif str(button.get("url", "")).startswith(("http://", "https://")):
                buttons.append({"text": button["text"], "url": button["url"]})
        rows.append(buttons)
    return rows


def _hhmm(unix: float | int | None) -> str:
    if not unix:
        return ""
    local = datetime.fromtimestamp(float(unix), UTC).astimezone()
    return local.strftime("%H:%M:%S %d/%m")


def _no_store(content_type: str) -> dict[str, str]:
    return {"Content-Type": f"{content_type}; charset=utf-8", "Cache-Control": "no-store"}


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
