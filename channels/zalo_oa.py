"""A Zalo Official Account through the Zalo OA OpenAPI (api-notes section 2).

Publishing is `article/create` (never retried here), then `article/verify` until the article
id arrives. The processing token that create returns is handed to `on_handle` at once, so
the publisher commits it before verifying; if verifying does not finish, `UnverifiedError`
carries the handle and `reconcile()` continues verifying later. A second create is never
made for a post whose token is known, with one exception Zalo itself reports: verify
answering -200 "Upload media failed" means the article was not made because Zalo could not
fetch the cover (api-notes 0), so it is created once more with `default_cover_url`.

On a create, anything that does not prove nothing was created is an unknown outcome
(`AmbiguousError`): HTTP 5xx, a timeout, a dropped connection, and -100 ("unknown error")
or -32 ("rate limit") (api-notes 2.7, 2.8). A refusal of the payload itself (-201 "invalid
parameter") proves nothing was made: a length complaint is answered by shortening the title
and description once more and sending again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
import jinja2
from pydantic import Field

from channels.base import (
    ChannelSettings,
    Clock,
    CredentialState,
    HandleCallback,
    TokenStore,
    UnverifiedError,
    utc_now,
)
from channels.http import json_body, send
from channels.render_common import template_environment
from channels.text import truncate
from channels.zalo_errors import AUTH_CODES, classify_zalo_error
from channels.zalo_render import render_zalo
from channels.zalo_tokens import ZaloTokens
from syndicator.config import Duration
from syndicator.errors import (
    AmbiguousError,
    CredentialsError,
    PermanentError,
    PublishError,
    TemporaryError,
)
from syndicator.types import Article, Post, PublishResult

KIND = "zalo_oa"
CREATE = "/v2.0/article/create"
VERIFY = "/v2.0/article/verify"
GETDETAIL = "/v2.0/article/getdetail"
GETSLICE = "/v2.0/article/getslice"
GETOA = "/v2.0/oa/getoa"
UPDATE = "/v2.0/article/update"
REMOVE = "/v2.0/article/remove"
MESSAGE = "/v2.0/oa/message"
SLICE_LIMIT = 10  # the documented page size (api-notes 2.4.D)
RECONCILE_PAGES = 2  # offsets 0 and 10: the 20 newest articles
RECONCILE_LOOKBACK = timedelta(minutes=5)
UPLOAD_MEDIA_FAILED = -200  # verify: Zalo could not fetch an image (api-notes 0) [U]
INVALID_PARAMETER = -201
UNKNOWN_OUTCOME_ON_CREATE = frozenset({-100, -32})  # api-notes 2.7: "try again later", rate
_LENGTH_WORDS = ("length", "too long", "exceed", "độ dài", "quá dài", "vượt")
BROADCAST_MAX = 5
REFRESH_TOKEN_LIFETIME = timedelta(days=90)  # [P] "3 months"; for the health report only


class ZaloOASettings(ChannelSettings):
    """`[channels.<name>]` with kind = "zalo_oa"."""

    kind: Literal["zalo_oa"]
    app_id: str
    secret_key: str
    refresh_token: str  # used only while the token store has none
    default_cover_url: str  # Zalo wants a cover on every article; used without an image
    api_base: str = "https://openapi.zalo.me"
    oauth_base: str = "https://oauth.zaloapp.com"
    author: str | None = Field(default=None, max_length=50)  # None: the article's agency
    status: Literal["show", "hide"] = "show"
    comment: Literal["show", "hide"] = "show"
    template: str = "zalo.j2"
    refresh_margin: Duration = timedelta(hours=1)
    verify_attempts: int = Field(default=10, ge=1)
    verify_delay: Duration = timedelta(seconds=3)
    digest: bool = False
    digest_time: str = Field(default="07:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    digest_target: dict[str, str] = {}  # broadcast target; {} = all followers [U]


class ZaloOA:
    """The Channel for one Zalo Official Account."""

    kind = KIND
    usage_pct: float | None = None  # the OA API reports no usage (api-notes 2.8)

    def __init__(
        self,
        name: str,
        settings: ZaloOASettings,
        *,
        client: httpx.AsyncClient,
        token_store: TokenStore,
        clock: Clock = utc_now,
        templates: jinja2.Environment | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        may_refresh: bool = True,
    ) -> None:
        self.name = name
        self.settings = settings
        self.client = client
        self.clock = clock
        self.sleep = sleep
        self.templates = templates or template_environment(settings.template_dir)
        self.tokens = ZaloTokens(
            name,
            client=client,
            store=token_store,
            clock=clock,
            oauth_base=settings.oauth_base,
            app_id=settings.app_id,
            secret_key=settings.secret_key,
            initial_refresh_token=settings.refresh_token,
            refresh_margin=settings.refresh_margin,
            timeout=settings.timeout.total_seconds(),
            may_refresh=may_refresh,
        )

    def render(self, article: Article, settings: ZaloOASettings | None = None) -> Post:
        """The article body for `article` (pure; see channels.zalo_render)."""
        return render_zalo(
            article, settings or self.settings, channel=self.name, env=self.templates
        )

    async def publish(
        self,
        post: Post,
        *,
        attempt_started_at: datetime,
        on_handle: HandleCallback | None = None,
    ) -> PublishResult:
        """Create once, hand the processing token to `on_handle`, then verify."""
        payload = dict(post.payload)
        try:
            handle = await self._create(payload, on_handle)
        except PermanentError as exc:
            if exc.code != INVALID_PARAMETER or not _about_length(exc.message):
                raise
            payload = shortened(payload)  # refused, so nothing was made: once more, shorter
            handle = await self._create(payload, on_handle)
        try:
            return await self._verified(handle["zalo_token"], handle)
        except PermanentError as exc:
            if exc.code != UPLOAD_MEDIA_FAILED:
                raise
            cover = {**payload["cover"], "photo_url": self.settings.default_cover_url}
            if payload["cover"] == cover:
                raise
            payload = {**payload, "cover": cover}
            handle = await self._create(payload, on_handle)
            handle["cover_fallback"] = True
            return await self._verified(handle["zalo_token"], handle)

    async def _create(
        self, payload: dict[str, Any], on_handle: HandleCallback | None
    ) -> dict[str, Any]:
        """One create call; the processing token is committed through `on_handle` at once."""
        data = await self._call("POST", CREATE, json=payload, creates=True)
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise AmbiguousError(self.name, f"create answered without a token: {data!r}")
        handle: dict[str, Any] = {"zalo_token": token}
        if on_handle is not None:
            try:
                await on_handle(handle)
            except Exception as exc:
                raise UnverifiedError(
                    self.name, f"could not record the processing token: {exc!r}", handle=handle
                ) from exc
        return handle

    async def reconcile(
        self, post: Post, *, attempt_started_at: datetime, handle: dict[str, Any] | None = None
    ) -> PublishResult | None:
        """Verify a known token; else look for the exact title among the newest articles."""
        token = (handle or {}).get("zalo_token")
        if token:
            try:
                return await self._verified(token, {"zalo_token": token})
            except PermanentError as exc:
                if exc.code == -201:  # Zalo does not know the token: nothing was created
                    return None
                raise
        since_ms = (attempt_started_at - RECONCILE_LOOKBACK).timestamp() * 1000
        found: list[dict[str, Any]] = []
        for page in range(RECONCILE_PAGES):
            params = {
                "offset": str(page * SLICE_LIMIT),
                "limit": str(SLICE_LIMIT),
                "type": "normal",
            }
            data = await self._call("GET", GETSLICE, params=params, creates=False)
            medias = data.get("medias") or data.get("articles") or []
            found += [m for m in medias if _same_article(m, post.marker, since_ms)]
            if len(medias) < SLICE_LIMIT:
                break
        if not found:
            return None
        found.sort(key=lambda media: media.get("create_date") or 0)
        details: dict[str, Any] = {"reconciled": True}
        if len(found) > 1:
            details["duplicates"] = [media["id"] for media in found[1:]]
        first = found[0]
        return PublishResult(str(first["id"]), first.get("link_view"), details)

    async def update(self, post: Post, external_id: str) -> PublishResult:
        """`article/update`: the create body plus `id`, then verify the new token (api-notes
        2.4.E, Java SDK UpdateNormalArticle). Updating twice leaves the same article."""
        data = await self._call(
            "POST", UPDATE, json={**post.payload, "id": external_id}, creates=False
        )
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise TemporaryError(self.name, f"update answered without a token: {data!r}")
        result = await self._verified(token, {"zalo_token": token})
        return PublishResult(external_id, result.permalink, {"updated": True, **result.details})

    async def remove(self, external_id: str) -> bool:
        """`article/remove` with the id (api-notes 2.4.F, Java SDK RemoveArticle); -201
        "Article does not exist" means it is already gone."""
        try:
            await self._call("POST", REMOVE, json={"id": external_id}, creates=False)
        except PermanentError as exc:
            if exc.code == INVALID_PARAMETER and "not exist" in exc.message.lower():
                return False
            raise
        return True

    async def check(self) -> CredentialState:
        """Read the OA's profile and report the token ages. A channel built with
        `may_refresh=False` (the CLI's check) never spends the single-use refresh token."""
        try:
            data = await self._call("GET", GETOA, creates=False)
        except CredentialsError as exc:
            return CredentialState(ok=False, detail=exc.message + self._token_ages())
        tokens = self.tokens.current
        expires = tokens.refresh_obtained_at + REFRESH_TOKEN_LIFETIME if tokens else None
        detail = f"OA {data.get('name', '?')} ({data.get('oa_id', '?')})" + self._token_ages()
        return CredentialState(ok=True, detail=detail, expires_at=expires)

    def _token_ages(self) -> str:
        tokens = self.tokens.current
        if tokens is None:
            return ""
        now = self.clock()
        age = now - tokens.refresh_obtained_at
        text = f"; pair issued {age.days} d {age.seconds // 3600} h ago"
        if tokens.access_expires_at:
            text += f", access token until {tokens.access_expires_at:%Y-%m-%d %H:%M} UTC"
        return text

    async def broadcast_digest(self, article_ids: list[str]) -> str:
        """Send up to five published articles to followers; returns Zalo's message_id.

        Never retried after an ambiguous outcome: a repeat reaches every follower twice.
        """
        if not 1 <= len(article_ids) <= BROADCAST_MAX:
            raise PermanentError(self.name, f"a digest holds 1 to {BROADCAST_MAX} articles")
        elements = [{"media_type": "article", "attachment_id": aid} for aid in article_ids]
        body = {
            "recipient": {"target": dict(self.settings.digest_target)},
            "message": {
                "attachment": {
                    "type": "template",
                    "payload": {"template_type": "media", "elements": elements},
                }
            },
        }
        data = await self._call("POST", MESSAGE, json=body, creates=True)
        return str(data.get("message_id", ""))

    # -- internals -----------------------------------------------------------------------------

    async def _verified(self, token: str, handle: dict[str, Any]) -> PublishResult:
        """Verify until the id arrives; UnverifiedError (with the handle) when it does not."""
        attempts = self.settings.verify_attempts
        last = "still processing"
        for attempt in range(attempts):
            if attempt:
                await self.sleep(self.settings.verify_delay.total_seconds())
            try:
                data = await self._call("POST", VERIFY, json={"token": token}, creates=False)
            except TemporaryError as exc:  # -214 and transport trouble: a read, so wait and retry
                last = exc.message
                continue
            article_id = data.get("id") or data.get("article_id")
            if article_id:
                permalink = await self._link_view(str(article_id))
                return PublishResult(str(article_id), permalink, dict(handle))
        raise UnverifiedError(
            self.name, f"not verified after {attempts} attempts ({last})", handle=handle
        )

    async def _link_view(self, article_id: str) -> str | None:
        try:
            data = await self._call("GET", GETDETAIL, params={"id": article_id}, creates=False)
        except PublishError:
            return None  # the article exists; a missing link must not fail the publish
        link = data.get("link_view")
        return link if isinstance(link, str) else None

    async def _call(
        self, method: str, path: str, *, creates: bool, **kwargs: Any
    ) -> dict[str, Any]:
        """One OA call with the token header; one refresh and one retry on an auth error."""
        token = await self.tokens.access_token()
        for attempt in (1, 2):
            body = await self._send(method, path, token, creates=creates, **kwargs)
            code = body.get("error", 0)
            if code == 0:
                data = body.get("data")
                return data if isinstance(data, dict) else {}
            message = str(body.get("message") or "")
            if code in AUTH_CODES and attempt == 1:
                token = await self.tokens.replace_rejected(token)
                continue  # the call was refused, so repeating it cannot duplicate anything
            if creates and code in UNKNOWN_OUTCOME_ON_CREATE:
                raise AmbiguousError(
                    self.name,
                    f"Zalo error {code} on {path}: {message} (it may have been created; "
                    "reconciling before any new attempt)",
                    code=code,
                )
            raise classify_zalo_error(self.name, int(code), message, now=self.clock())
        raise AssertionError("unreachable")

    async def _send(
        self, method: str, path: str, token: str, *, creates: bool, **kwargs: Any
    ) -> dict[str, Any]:
        response = await send(
            self.client,
            self.name,
            method,
            self.settings.api_base.rstrip("/") + path,
            creates=creates,
            timeout=self.settings.timeout.total_seconds(),
            what=f"{method} {path}",
            headers={"access_token": token},
            **kwargs,
        )
        body = json_body(response)
        if response.status_code >= 500 or not isinstance(body, dict):
            what = f"HTTP {response.status_code} without a Zalo answer from {path}"
            if creates:
                raise AmbiguousError(self.name, what + "; it may have gone through")
            raise TemporaryError(self.name, what)
        if not isinstance(body.get("error", 0), int):
            raise PermanentError(self.name, f"unexpected answer from {path}: {body!r}")
        return body


def _same_article(media: dict[str, Any], title: str, since_ms: float) -> bool:
    """The post's title (or the shortened form a length refusal led to), created after the
    attempt began when Zalo says when. The unit of `create_date` is not documented (api-notes
    0): values below 10^11 are read as seconds, the rest as milliseconds."""
    found = media.get("title")
    if not isinstance(found, str) or not media.get("id"):
        return False
    stem = found.removesuffix("…").rstrip()
    if found != title and not (found.endswith("…") and stem and title.startswith(stem)):
        return False
    created = media.get("create_date")
    if not isinstance(created, int | float):
        return True
    created_ms = created * 1000 if created < 1e11 else created
    return created_ms >= since_ms


def _about_length(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in _LENGTH_WORDS)


def shortened(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its title and description cut by a further tenth (at word bounds)."""
    title, description = payload["title"], payload["description"]
    return {
        **payload,
        "title": truncate(title, max(20, len(title) * 9 // 10)),
        "description": truncate(description, max(20, len(description) * 9 // 10)),
    }
