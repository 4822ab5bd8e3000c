"""A Facebook Page through the Meta Graph API (api-notes section 1).

Publishing is one POST to `/{page}/feed` (link post) or `/{page}/photos` (photo post), never
retried here. The Page token travels in the POST body or an `Authorization` header, never in
the URL, where an office proxy's log would keep it. After any answer, `usage_pct` holds the highest usage percentage Meta reported
(None when it sent no usage header), so the publisher can slow down above about 75 %. After a
throttle answer the channel refuses further calls until the wait is over, because Meta keeps
counting calls made while limited (api-notes 1.6).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
import jinja2
from pydantic import field_validator

from channels.base import ChannelSettings, Clock, CredentialState, HandleCallback, utc_now
from channels.facebook_errors import classify_graph_error, usage_percent
from channels.facebook_render import render_facebook
from channels.http import json_body, send
from channels.render_common import template_environment
from syndicator.errors import (
    AmbiguousError,
    ChannelBlockedError,
    CredentialsError,
    PermanentError,
    PublishError,
    TemporaryError,
    ThrottledError,
)
from syndicator.sources.identity import canonical_url
from syndicator.types import Article, Post, PublishResult

KIND = "facebook_page"
FEED = "{page}/feed"
PHOTOS = "{page}/photos"
PUBLISHED_POSTS = "{page}/published_posts"
# Only fields that exist today: since v3.3, asking a Page post for `link` (or caption,
# description, name, object_id, source, type) fails the whole read with (#12)
# deprecate_post_aggregated_fields_for_attachement (Graph "Post" reference, Limitations;
# restfb/restfb#990 maps link -> attachments{unshimmed_url}; FriendsOfREDAXO/feeds#179 and
# rezozero/mixedfeed#21 quote the error). The link now lives in the post's attachments.
POST_FIELDS = "id,message,created_time,permalink_url,attachments{unshimmed_url,url,target}"
RECONCILE_LOOKBACK = timedelta(minutes=5)  # clocks differ; look a little before the attempt
RECONCILE_PAGE_SIZE = 100
RECONCILE_MAX_PAGES = 5
PERMALINK_ATTEMPTS = 2
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"]+")


class FacebookPageSettings(ChannelSettings):
    """`[channels.<name>]` with kind = "facebook_page"."""

    kind: Literal["facebook_page"]
    page_id: str
    access_token: str
    api_base: str = "https://graph.facebook.com"
    api_version: str = "v23.0"
    post_as: Literal["link", "photo"] = "link"  # photo falls back to link without an image
    app_id: str | None = None  # with app_secret: debug_token checks and appsecret_proof
    app_secret: str | None = None
    hashtags: bool = True
    template: str = "facebook.j2"

    @field_validator("api_version")
    @classmethod
    def _version_shape(cls, value: str) -> str:
        if not re.match(r"^v\d+\.\d+$", value):
            raise ValueError('must look like "v23.0"')
        return value

    @field_validator("api_base")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


class FacebookPage:
    """The Channel for one Facebook Page."""

    kind = KIND

    def __init__(
        self,
        name: str,
        settings: FacebookPageSettings,
        *,
        client: httpx.AsyncClient,
        clock: Clock = utc_now,
        templates: jinja2.Environment | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.client = client
        self.clock = clock
        self.templates = templates or template_environment(settings.template_dir)
        self.usage_pct: float | None = None
        self.blocked_until: datetime | None = None

    def render(self, article: Article, settings: FacebookPageSettings | None = None) -> Post:
        """The post for `article` (pure; see channels.facebook_render)."""
        return render_facebook(
            article, settings or self.settings, channel=self.name, env=self.templates
        )

    async def publish(
        self,
        post: Post,
        *,
        attempt_started_at: datetime,
        on_handle: HandleCallback | None = None,
    ) -> PublishResult:
        """POST the stored payload once; the permalink is fetched afterwards (best effort)."""
        page = self.settings.page_id
        photo = "url" in post.payload
        path = (PHOTOS if photo else FEED).format(page=page)
        body = await self._call("POST", path, data=dict(post.payload), creates=True)
        post_id = body.get("post_id") or body.get("id")
        if not isinstance(post_id, str) or not post_id:
            raise AmbiguousError(self.name, f"Graph answered without a post id: {body!r}")
        details: dict[str, Any] = {"photo_id": body["id"]} if photo and "id" in body else {}
        return PublishResult(
            external_id=post_id, permalink=await self._permalink(post_id), details=details
        )

    async def reconcile(
        self, post: Post, *, attempt_started_at: datetime, handle: dict[str, Any] | None = None
    ) -> PublishResult | None:
        """Look for the post's canonical link among the Page's posts since the attempt."""
        since = int((attempt_started_at - RECONCILE_LOOKBACK).timestamp())
        params = {"fields": POST_FIELDS, "since": str(since), "limit": str(RECONCILE_PAGE_SIZE)}
        path = PUBLISHED_POSTS.format(page=self.settings.page_id)
        found: list[dict[str, Any]] = []
        for _ in range(RECONCILE_MAX_PAGES):
            body = await self._call("GET", path, params=params, creates=False)
            data = body.get("data")
            items: list[dict[str, Any]] = data if isinstance(data, list) else []
            found += [item for item in items if self._matches(item, post.marker)]
            after = (body.get("paging") or {}).get("cursors", {}).get("after")
            if not items or not after or not (body.get("paging") or {}).get("next"):
                break
            params = {**params, "after": after}
        if not found:
            return None
        found.sort(key=lambda item: str(item.get("created_time", "")))
        first = found[0]
        details: dict[str, Any] = {"reconciled": True}
        if len(found) > 1:
            details["duplicates"] = [item["id"] for item in found[1:]]
        return PublishResult(
            external_id=first["id"], permalink=first.get("permalink_url"), details=details
        )

    async def update(self, post: Post, external_id: str) -> PublishResult:
        """Edit the live post's text: `POST /{post-id}` with `message` (Pages API "Posts",
        Update a Post). A photo post's text is its caption, edited the same way."""
        message = post.payload.get("message") or post.payload.get("caption") or ""
        await self._call("POST", external_id, data={"message": message}, creates=False)
        return PublishResult(external_id, await self._permalink(external_id), {"updated": True})

    async def remove(self, external_id: str) -> bool:
        """`DELETE /{post-id}` (api-notes 1.3.E); code 100 (subcode 33: the object does not
        exist) means someone already removed it."""
        try:
            body = await self._call("DELETE", external_id, creates=False)
        except PermanentError as exc:
            if exc.code == 100 and "does not exist" in exc.message:
                return False
            raise
        return bool(body.get("success", True))

    async def check(self) -> CredentialState:
        """debug_token with the app credentials when configured, else read the Page itself."""
        settings = self.settings
        try:
            if settings.app_id and settings.app_secret:
                return await self._debug_token()
            body = await self._call(
                "GET", settings.page_id, params={"fields": "id,name"}, creates=False
            )
        except CredentialsError as exc:
            return CredentialState(ok=False, detail=exc.message)
        return CredentialState(ok=True, detail=f"Page {body.get('name', settings.page_id)}")

    # -- internals -----------------------------------------------------------------------------

    async def _debug_token(self) -> CredentialState:
        settings = self.settings
        app_token = f"{settings.app_id}|{settings.app_secret}"
        body = await self._call(
            "GET",
            "debug_token",
            params={"input_token": settings.access_token},
            creates=False,
            token=app_token,
        )
        data = body.get("data") or {}
        expires = data.get("expires_at") or 0
        expires_at = datetime.fromtimestamp(expires, self.clock().tzinfo) if expires else None
        if not data.get("is_valid"):
            problem = (data.get("error") or {}).get("message", "token is not valid")
            return CredentialState(ok=False, detail=f"Page token: {problem}", expires_at=expires_at)
        scopes = ", ".join(data.get("scopes") or [])
        detail = f"Page token valid ({data.get('type', '?')}; {scopes or 'no scopes listed'})"
        return CredentialState(ok=True, detail=detail, expires_at=expires_at)

    def _matches(self, item: dict[str, Any], marker: str) -> bool:
        """The article's canonical URL in the post's attachments or in its text."""
        return any(canonical_url(link) == marker for link in post_links(item))

    async def _permalink(self, post_id: str) -> str | None:
        """GET the post's permalink_url; a read, so retried once; None when it cannot be had."""
        for _ in range(PERMALINK_ATTEMPTS):
            try:
                body = await self._call(
                    "GET", post_id, params={"fields": "permalink_url"}, creates=False
                )
            except ThrottledError:
                return None  # never spend more calls while limited
            except TemporaryError:
                continue
            except PublishError:
                return None
            link = body.get("permalink_url")
            return link if isinstance(link, str) else None
        return None

    async def _call(
        self,
        method: str,
        path: str,
        *,
        creates: bool,
        params: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """One Graph call; returns the JSON object or raises a classified PublishError."""
        now = self.clock()
        if self.blocked_until and now < self.blocked_until:
            wait = (self.blocked_until - now).total_seconds()
            raise ThrottledError(self.name, "Graph asked us to pause", retry_after=wait)
        settings = self.settings
        token = token or settings.access_token
        proof: dict[str, str] = {}
        if settings.app_secret and token == settings.access_token:
            digest = hmac.new(settings.app_secret.encode(), token.encode(), hashlib.sha256)
            proof["appsecret_proof"] = digest.hexdigest()  # an HMAC, useless without the token
        url = f"{settings.api_base}/{settings.api_version}/{path}"
        # Graph reads `access_token` from the body of a POST (api-notes 1.2) and accepts a
        # bearer header on any call; neither ends up in a proxy's URL log.
        response = await send(
            self.client,
            self.name,
            method,
            url,
            creates=creates,
            timeout=settings.timeout.total_seconds(),
            what=f"{method} {path}",
            params={**(params or {}), **proof} if data is None else dict(params or {}),
            data={**data, "access_token": token, **proof} if data is not None else None,
            headers=None if data is not None else {"Authorization": f"Bearer {token}"},
        )
        self.usage_pct = usage_percent(response.headers)
        body = json_body(response)
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error = classify_graph_error(
                self.name, body["error"], response.headers, creates=creates
            )
            if isinstance(error, ThrottledError | ChannelBlockedError) and error.retry_after:
                self.blocked_until = now + timedelta(seconds=error.retry_after)
            raise error
        if response.status_code >= 400 or not isinstance(body, dict):
            what = f"HTTP {response.status_code} without a Graph answer from {method} {path}"
            if creates:
                raise AmbiguousError(self.name, what + "; it may have gone through")
            if response.status_code < 500 and isinstance(body, dict):
                raise PermanentError(self.name, what)
            raise TemporaryError(self.name, what)
        return body


def post_links(item: dict[str, Any]) -> list[str]:
    """Every link a Graph post shows: its attachments' (unshimmed) URLs and targets, and the
    URLs written in its message. A photo post's caption carries the article link too."""
    links: list[str] = []
    attachments = item.get("attachments")
    data = attachments.get("data") if isinstance(attachments, dict) else None
    for attachment in data if isinstance(data, list) else []:
        if not isinstance(attachment, dict):
            continue
        target = attachment.get("target")
        candidates = [
            attachment.get("unshimmed_url"),
            attachment.get("url"),
            target.get("url") if isinstance(target, dict) else None,
        ]
        links += [link for link in candidates if isinstance(link, str) and link]
    message = item.get("message")
    if isinstance(message, str):
        links += [m.rstrip(".,;:)]") for m in _URL_IN_TEXT.findall(message)]
    return links
