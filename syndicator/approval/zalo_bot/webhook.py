"""The webhook receiver: Zalo POSTs each update to `webhook_url` with the secret in a header.

Verified as openclaw's extensions/zalo/src/monitor.webhook.ts does: POST only, header
`X-Bot-Api-Secret-Token` compared in constant time (wrong or missing: 401, nothing handled),
a JSON body of at most 1 MB that is the update itself `{event_name, message}` (a
`{ok, result}` wrapper is accepted too). The update is handled after the answer, so a slow
database never makes Zalo retry; re-deliveries are dropped by message id in the surface.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from syndicator.config import ZaloBotSettings

HEADER = "X-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024
log = structlog.get_logger("syndicator.approval.zalo_bot.webhook")
Handler = Callable[[dict[str, Any]], Awaitable[None]]


class WebhookReceiver:
    def __init__(self, cfg: ZaloBotSettings, handle: Handler) -> None:
        self.cfg, self.handle = cfg, handle
        self.path = urlsplit(cfg.webhook_url or "").path or "/"
        host, _, port = cfg.webhook_listen.rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port or 0)
        self.refused = 0  # requests refused for a wrong or missing secret
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url: str | None = None  # where it listens, once started

    async def start(self) -> str:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", self.path, self._receive)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=0.5)  # fmt: skip
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{self.host}:{port}{self.path}"
        log.info("zalo_webhook_listening", url=self.url)
        return self.url

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        if request.method != "POST":
            return web.Response(status=405, text="method not allowed")
        given = request.headers.get(HEADER, "").encode()
        if not hmac.compare_digest(given, (self.cfg.webhook_secret or "").encode()):
            self.refused += 1
            log.warning("zalo_webhook_refused", remote=request.remote, refused=self.refused)
            return web.Response(status=401, text="unauthorized")
        if request.content_type != "application/json" and not request.content_type.endswith(
            "+json"
        ):
            return web.Response(status=415, text="application/json expected")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.Response(status=400, text="Bad Request")
        update = body.get("result") if isinstance(body, dict) and body.get("ok") is True else body
        if not isinstance(update, dict) or not update.get("event_name"):
            return web.Response(status=400, text="Bad Request")
        task = asyncio.create_task(self._handle(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(status=200, text="ok")

    async def _handle(self, update: dict[str, Any]) -> None:
        try:
            await self.handle(update)
        except Exception:
            log.exception("zalo_webhook_update_failed")
