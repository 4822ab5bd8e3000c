"""A small client of the Zalo Bot Platform API over the daemon's shared httpx client.

What it relies on, and where that comes from:
- `<api_base>/bot<TOKEN>/<method>`, every method a POST with a JSON body, answers
  `{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description"}`
  (openclaw/openclaw extensions/zalo/src/api.ts callZaloApi; api-notes 0).
- `getUpdates` returns at most one update per call; `timeout` is seconds, sent as a string;
  `error_code` 408 "Request timeout" means "nothing arrived" (the same file: isPollingTimeout
  and getUpdates; issue 13). The HTTP read timeout is the poll timeout plus 5 s, as there.
- A bad token answers 401 (issue 13): AuthError, which the surface reports instead of looping.
The error body is read whatever the HTTP status, since clients disagree on which status
carries it; a body that is not the envelope is an ambiguous transport failure.
"""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_TIMEOUT = 15.0
PHOTO_TIMEOUT = 40.0  # Zalo fetches the photo URL before it answers (openclaw sendPhoto)


class ZaloBotError(Exception):
    """The API refused a call with an error envelope."""

    def __init__(self, method: str, code: int, description: str) -> None:
        super().__init__(f"zalo_bot {method}: {code} {description}")
        self.method, self.code, self.description = method, code, description


class AuthError(ZaloBotError):
    """401: the bot token is wrong or revoked; nothing will work until it is fixed."""


class TransportError(Exception):
    """No usable answer (network error, timeout, not JSON): a send may have been delivered."""


class ZaloBotClient:
    def __init__(self, http: httpx.AsyncClient, token: str, api_base: str) -> None:
        self.http, self.token = http, token
        self.api_base = api_base.rstrip("/")

    def url(self, method: str) -> str:
        return f"{self.api_base}/bot{self.token}/{method}"

    async def call(
        self, method: str, body: dict[str, Any] | None = None, *, timeout: float = DEFAULT_TIMEOUT
    ) -> Any:
        try:
            response = await self.http.post(self.url(method), json=body or {}, timeout=timeout)
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            # The token is in the URL: never put the request or URL into the message.
            raise TransportError(f"zalo_bot {method}: {type(exc).__name__}") from None
        if not isinstance(data, dict) or "ok" not in data:
            raise TransportError(f"zalo_bot {method}: HTTP {response.status_code}, no envelope")
        if data["ok"]:
            return data.get("result")
        code = int(data.get("error_code") or response.status_code)
        description = str(data.get("description") or "")
        if code == 401:
            raise AuthError(method, code, description)
        raise ZaloBotError(method, code, description)

    async def get_me(self) -> dict[str, Any]:
        result = await self.call("getMe")
        return result if isinstance(result, dict) else {}

    async def get_update(self, timeout: int) -> dict[str, Any] | None:
        """One update, or None when the long poll ended with 408 (nothing new)."""
        try:
            result = await self.call("getUpdates", {"timeout": str(timeout)}, timeout=timeout + 5.0)
        except ZaloBotError as exc:
            if exc.code == 408:
                return None
            raise
        return result if isinstance(result, dict) else None

    async def set_webhook(self, url: str, secret: str) -> Any:
        return await self.call("setWebhook", {"url": url, "secret_token": secret})

    async def get_webhook_info(self) -> dict[str, Any]:
        result = await self.call("getWebhookInfo")
        return result if isinstance(result, dict) else {}

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")

    async def send_message(self, chat_id: str, text: str) -> str:
        result = await self.call("sendMessage", {"chat_id": chat_id, "text": text})
        return str((result or {}).get("message_id", ""))

    async def send_photo(self, chat_id: str, photo: str, caption: str | None) -> str:
        body: dict[str, Any] = {"chat_id": chat_id, "photo": photo}
        if caption:
            body["caption"] = caption
        result = await self.call("sendPhoto", body, timeout=PHOTO_TIMEOUT)
        return str((result or {}).get("message_id", ""))

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        await self.call("sendChatAction", {"chat_id": chat_id, "action": action})
