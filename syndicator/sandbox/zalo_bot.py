"""A stand-in for the Zalo Bot Platform API (api-notes 0, "Zalo Bot Platform"; issue 13).

Sources for what is imitated, cited per behaviour below:
  [docs]     bot.zaloplatforms.com/docs, as mirrored in community repositories
  [openclaw] openclaw/openclaw extensions/zalo/src/api.ts, monitor.webhook.ts and
             docs/channels/zalo.md (the Vietnamese copy)
  [php]      vntrungld/zalo-bot-php-sdk README (packagist page)
  [script]   lamdt1/ckvn-bot src/test_zalo_chat_id.py (a public polling client)
  [U]        not found in any source: an assumption, kept Telegram-like and said so

Base `<base>/bot<TOKEN>/<method>`; every method takes POST with a JSON body ([openclaw]
callZaloApi) and the query string is read too. Each token is its own bot with its own chats.
Faults: scopes are method names (lower case) or "send" (sendMessage/sendPhoto); kinds are
"error" (error_code, description) plus the transport kinds of sandbox/common.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from syndicator.sandbox.common import ERROR, SandboxServer, json_response

TEXT_MAX = 2000  # sendMessage text 1-2,000 characters [docs] [openclaw docs "Giới hạn"]
CAPTION_MAX = 2000  # sendPhoto caption [openclaw] truncateUtf16Safe(caption, 2000)
SECRET_MIN, SECRET_MAX = 8, 256  # setWebhook secret_token length [openclaw docs]
CHAT_ACTIONS = ("typing", "upload_photo")  # [openclaw] ZaloSendChatActionParams


class BotApiError(Exception):
    """An error envelope {"ok": false, "error_code", "description"} [docs] [openclaw]."""

    def __init__(self, code: int, description: str, status: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description = code, description
        self.status = status if status is not None else code

    def response(self) -> web.Response:
        body = {"ok": False, "error_code": self.code, "description": self.description}
        return json_response(body, status=self.status)


@dataclass
class BotState:
    token: str
    bot_id: str
    name: str
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_updated_at: int = 0
    updates: deque[dict[str, Any]] = field(default_factory=deque)
    chats: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # webhook POSTs and answers
    actions: list[dict[str, Any]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


class ZaloBotServer(SandboxServer):
    """Zalo Bot API stand-in for one or more bots (one per token)."""

    name = "zalo_bot"

    def __init__(
        self,
        tokens: Iterable[str] = ("1234567890:SANDBOX-ZALO-BOT",),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        # Token shape <bot_id>:<secret> [openclaw docs "Thiết lập nhanh"].
        self.bots = {t: BotState(t, t.split(":")[0], f"bot.sandbox{i}")
                     for i, t in enumerate(tokens)}  # fmt: skip
        if not self.bots:
            raise ValueError("zalo_bot sandbox needs at least one bot token")
        self._ids = itertools.count(1)
        self._client: aiohttp.ClientSession | None = None
        self.methods: dict[str, Callable[[BotState, dict[str, Any]], Any]] = {
            "getme": self._get_me,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._webhook_info,
            "deletewebhook": self._delete_webhook,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "sendchataction": self._send_chat_action,
        }

    @property
    def token(self) -> str:
        return next(iter(self.bots))

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        await super().stop()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        bot = self.bots.get(request.match_info["token"])
        if bot is None:
            # A bad token answers 401 [issue 13] [script: `error_code == 401` stops the loop].
            return BotApiError(401, "Unauthorized").response()
        method = request.match_info["method"].lower()
        try:
            params = await _read_params(request)
            self.log_request(request.method, method, params)
            if method == "getupdates":
                return await self._get_updates(bot, params)
            handler = self.methods.get(method)
            if handler is None:
                raise BotApiError(404, "Not Found")  # [U] Telegram-like
            scope = "send" if method in ("sendmessage", "sendphoto") else method
            fault = self.faults.take(method, scope)
            if fault is not None and fault.kind == ERROR:
                code = int(fault.params.get("error_code", 400))
                raise BotApiError(code, str(fault.params.get("description", "Bad Request")))
        except BotApiError as error:
            return error.response()

        async def commit() -> web.StreamResponse:
            try:
                result = handler(bot, params)
            except BotApiError as error:
                return error.response()
            return json_response({"ok": True, "result": result})

        return await self.apply_transport_fault(request, fault, commit)

    # -- receiving ---------------------------------------------------------------------------

    async def _get_updates(self, bot: BotState, params: dict[str, Any]) -> web.StreamResponse:
        """One update per call [openclaw api.ts: "Zalo returns a single update per call"]."""
        if bot.webhook_url:
            # getUpdates and webhooks exclude each other [openclaw docs]; the exact error is
            # not documented [U]: Telegram's 409 Conflict wording is used.
            raise_ = BotApiError(409, "Conflict: can't use getUpdates while webhook is active")
            return raise_.response()
        fault = self.faults.take("getupdates", include_any=False)
        if fault is not None and fault.kind == ERROR:
            code = int(fault.params.get("error_code", 500))
            return BotApiError(code, str(fault.params.get("description", "error"))).response()
        try:
            timeout = float(params.get("timeout") or 0)  # seconds, sent as a string [openclaw]
        except ValueError:
            return BotApiError(400, "timeout must be a number of seconds").response()
        deadline = time.monotonic() + max(0.0, min(timeout, 60.0))
        while not bot.updates:
            bot.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0 or self._stopping.is_set():
                # Nothing within the timeout: {"ok": false, "error_code": 408, "description":
                # "Request timeout"} [issue 13] [script checks "Request timeout" in the body];
                # answered with HTTP 200, since [openclaw] rejects non-2xx responses before it
                # reads the body, yet treats 408 as "no updates" (isPollingTimeout).
                return BotApiError(408, "Request timeout", status=200).response()
            try:
                await asyncio.wait_for(bot.arrived.wait(), timeout=left)
            except TimeoutError:
                continue
        return json_response({"ok": True, "result": bot.updates.popleft()})

    def _set_webhook(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        url, secret = str(params.get("url") or ""), str(params.get("secret_token") or "")
        # HTTPS only [openclaw docs]; plain http to this machine is allowed for tests.
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise BotApiError(400, "url must be an HTTPS URL")
        if not SECRET_MIN <= len(secret) <= SECRET_MAX:
            raise BotApiError(400, "secret_token must be 8-256 characters")
        bot.webhook_url, bot.webhook_secret = url, secret
        bot.webhook_updated_at = int(time.time() * 1000)
        return self._webhook_info(bot, params)

    def _webhook_info(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        # {url, updated_at} [openclaw api.ts ZaloWebhookInfo]
        return {"url": bot.webhook_url, "updated_at": bot.webhook_updated_at}

    def _delete_webhook(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        bot.webhook_url, bot.webhook_secret = "", ""
        bot.webhook_updated_at = int(time.time() * 1000)
        return self._webhook_info(bot, params)

    # -- sending -----------------------------------------------------------------------------

    def _get_me(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        # {id, account_name, account_type, can_join_groups} [openclaw api.ts ZaloBotInfo];
        # a basic bot chats privately only [issue 13].
        return {"id": bot.bot_id, "account_name": bot.name, "account_type": "BASIC",
                "can_join_groups": False}  # fmt: skip

    def _chat(self, bot: BotState, params: dict[str, Any]) -> str:
        chat_id = str(params.get("chat_id") or "")
        if not chat_id:
            raise BotApiError(400, "chat_id is required")
        if chat_id not in bot.chats:
            # A bot reaches only people who wrote to it first [U]: the platform's rule for
            # unknown chats is not documented; refusing keeps the client honest.
            raise BotApiError(400, "chat not found")
        return chat_id

    def _store(self, bot: BotState, chat_id: str, **fields: Any) -> dict[str, Any]:
        message = {"message_id": f"m{next(self._ids)}", "date": int(time.time() * 1000),
                   "from": {"id": bot.bot_id, "is_bot": True}, **fields}  # fmt: skip
        bot.chats[chat_id].append(message)
        # The answer carries message_id and date [openclaw api.ts: sendMessage → ZaloMessage].
        return {"message_id": message["message_id"], "date": message["date"]}

    def _send_message(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat(bot, params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise BotApiError(400, "text is required")
        if len(text) > TEXT_MAX:  # 1-2,000 characters [docs] [openclaw docs]
            raise BotApiError(400, f"text must be at most {TEXT_MAX} characters")
        return self._store(bot, chat_id, text=text)

    def _send_photo(self, bot: BotState, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat(bot, params)
        photo = str(params.get("photo") or "")
        if not photo.startswith(("http://", "https://")):  # a URL [openclaw api.ts sendPhoto]
            raise BotApiError(400, "photo must be an HTTP(S) URL")
        caption = params.get("caption")
        if caption is not None and len(str(caption)) > CAPTION_MAX:
            raise BotApiError(400, f"caption must be at most {CAPTION_MAX} characters")
        return self._store(bot, chat_id, photo=photo, caption=caption)

    def _send_chat_action(self, bot: BotState, params: dict[str, Any]) -> bool:
        chat_id = self._chat(bot, params)
        if params.get("action") not in CHAT_ACTIONS:
            raise BotApiError(400, "action must be typing or upload_photo")
        bot.actions.append({"chat_id": chat_id, "action": params.get("action")})
        return True

    # -- test API ----------------------------------------------------------------------------

    def inject_message(
        self, user_id: str, text: str, *, name: str = "Người dùng", token: str | None = None
    ) -> dict[str, Any]:
        """A person writes to the bot privately; delivered by webhook or to getUpdates."""
        bot = self.bots[token or self.token]
        chat_id = str(user_id)  # a private chat's id is the user's [openclaw send: target id]
        bot.chats.setdefault(chat_id, [])
        bot.names[chat_id] = name
        message = {
            "message_id": f"u{next(self._ids)}", "date": int(time.time() * 1000), "text": text,
            "from": {"id": str(user_id), "display_name": name, "is_bot": False},
            "chat": {"id": chat_id, "chat_type": "PRIVATE"},
        }  # fmt: skip
        bot.chats[chat_id].append(message)
        # The update shape {event_name, message} [openclaw api.ts ZaloUpdate]; webhooks get
        # it unwrapped [openclaw monitor.webhook.ts: "not wrapped in { ok, result }"].
        update = {"event_name": "message.text.received", "message": message}
        if bot.webhook_url:
            asyncio.get_running_loop().create_task(self._deliver(bot, update))
        else:
            bot.updates.append(update)
            bot.arrived.set()
        return update

    async def _deliver(self, bot: BotState, update: dict[str, Any]) -> None:
        if self._client is None:
            self._client = aiohttp.ClientSession()
        record: dict[str, Any] = {"update": update, "status": None}
        bot.deliveries.append(record)
        try:
            async with self._client.post(
                bot.webhook_url, json=update,
                headers={"X-Bot-Api-Secret-Token": bot.webhook_secret},  # [openclaw docs]
            ) as response:  # fmt: skip
                record["status"] = response.status
        except aiohttp.ClientError as exc:
            record["status"], record["error"] = 0, str(exc)

    def chat_messages(self, chat_id: str, token: str | None = None) -> list[dict[str, Any]]:
        return list(self.bots[token or self.token].chats.get(str(chat_id), []))

    def bot_messages(self, chat_id: str, token: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.chat_messages(chat_id, token) if m["from"].get("is_bot")]

    def state(self) -> dict[str, Any]:
        return {
            "bots": {
                token: {"webhook": {"url": bot.webhook_url}, "chats": bot.chats,
                        "pending_updates": list(bot.updates), "deliveries": bot.deliveries}
                for token, bot in self.bots.items()
            }
        }  # fmt: skip

    def control_actions(self) -> dict[str, Callable[..., Any]]:
        return {**super().control_actions(), "inject_message": self.inject_message}


async def _read_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                raise BotApiError(400, "request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise BotApiError(400, "request body must be a JSON object")
            params.update(body)
        else:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return params
