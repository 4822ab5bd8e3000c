"""A stand-in for the Zalo OA OpenAPI and its OAuth v4 host (api-notes.md section 2.9).

One server serves both hosts: `oauth_base` is `{base}/oauth` and `api_base` is `{base}/openapi`,
and the paths below them are the real ones (`/v4/oa/access_token`, `/v2.0/article/create`...).

Fault scopes: "oauth", "create" (create and update), "verify", "read" (getslice, getdetail,
getoa), "remove", "upload", "message", "any". Kinds: "error" (param `code`, optional `message`;
-216/-220 also kill the access token they met), "accept_then_hang" (hold), "drop",
"drop_before", "http500_no_body", "slow" (delay).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from syndicator.sandbox.common import ERROR, SandboxServer, json_response
from syndicator.sandbox.zalo_articles import (
    IMAGE_MAX_BYTES,
    OAUTH_INVALID_APP,
    OAUTH_INVALID_GRANT,
    OAUTH_INVALID_PARAMETER,
    OAUTH_INVALID_SECRET,
    Article,
    ZaloError,
    broadcast_article_ids,
    envelope,
    validate_article,
)

OAUTH_PREFIX = "/oauth"
API_PREFIX = "/openapi"
MAX_SLICE = 10
AUTH_ERRORS = (-216, -220, -124)


class ZaloServer(SandboxServer):
    """Zalo OA stand-in with one OA, one app and a rotating refresh token."""

    name = "zalo"

    def __init__(
        self,
        *,
        app_id: str = "4318000000000000001",
        secret_key: str = "sandbox-secret-key",
        access_token: str = "zalo-access-0",
        refresh_token: str = "zalo-refresh-0",
        expires_in: str | int = "90000",
        verify_pending_calls: int = 1,
        create_date_unit: str = "ms",
        max_slice: int = MAX_SLICE,
        oa_id: str = "579745863508352884",
        oa_name: str = "Cổng TTĐT tỉnh (sandbox)",
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.app_id = app_id
        self.secret_key = secret_key
        self.expires_in = expires_in
        self.verify_pending_calls = verify_pending_calls
        # The unit of create_date is not documented (api-notes 0): tests run both.
        self.create_date_unit = create_date_unit
        self.unfetchable_images: set[str] = set()
        self.max_slice = max_slice
        self.oa_id = oa_id
        self.oa_name = oa_name
        self.clock = clock
        self.articles: dict[str, Article] = {}
        self.broadcasts: list[dict[str, Any]] = []
        self.uploads: list[dict[str, Any]] = []
        self.refresh_count = 0
        self.refresh_token = refresh_token  # the only refresh token that works right now
        self.auth_codes: set[str] = set()
        self._access: dict[str, float] = {}  # token -> expires at (unix seconds)
        self._dead_access: dict[str, int] = {}  # token -> the error it now answers
        self._verify_tokens: dict[str, dict[str, Any]] = {}  # token -> {article_id, calls}
        self._issue_access(access_token)

    # -- base URLs and test API ----------------------------------------------------------------

    @property
    def oauth_base(self) -> str:
        """Stands for https://oauth.zaloapp.com."""
        return self.base_url + OAUTH_PREFIX

    @property
    def api_base(self) -> str:
        """Stands for https://openapi.zalo.me."""
        return self.base_url + API_PREFIX

    def expire_access_token(self, token: str | None = None, code: int = -220) -> None:
        """Make `token` (default: every live one) answer `code` from now on, as if it expired."""
        for live in [token] if token else list(self._access):
            self._dead_access[live] = code

    def make_unfetchable(self, url: str) -> None:
        """Articles whose cover is `url` fail at verify with -200 "Upload media failed" and
        are not created, as when Zalo cannot fetch a large or slow image (api-notes 0)."""
        self.unfetchable_images.add(url)

    def create_auth_code(self) -> str:
        """A one-off authorization code, as the consent page would hand to the redirect URI."""
        self.auth_codes.add(code := "code-" + secrets.token_hex(6))
        return code

    @property
    def access_tokens(self) -> list[str]:
        """Tokens that would be accepted now."""
        now = self.clock()
        return [t for t, exp in self._access.items() if exp > now and t not in self._dead_access]

    def live_articles(self) -> list[Article]:
        """Articles not removed, newest first."""
        found = [a for a in self.articles.values() if not a.removed]
        return sorted(found, key=lambda a: a.create_date, reverse=True)

    def state(self) -> dict[str, Any]:
        return {
            "articles": [asdict(article) for article in self.live_articles()],
            "removed_articles": [a.id for a in self.articles.values() if a.removed],
            "broadcasts": self.broadcasts,
            "uploads": self.uploads,
            "access_tokens": self.access_tokens,
            "refresh_token": self.refresh_token,
            "refresh_count": self.refresh_count,
        }

    def control_actions(self) -> dict[str, Callable[..., Any]]:
        return {
            **super().control_actions(),
            "expire_access_token": self.expire_access_token,
            "make_unfetchable": self.make_unfetchable,
            "create_auth_code": self.create_auth_code,
        }

    # -- routing ---------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(OAUTH_PREFIX + "/v4/oa/access_token", self._oauth)
        routes: dict[tuple[str, str], tuple[str, Callable[..., Any]]] = {
            ("POST", "/v2.0/article/create"): ("create", self._create),
            ("POST", "/v2.0/article/update"): ("create", self._update),
            ("POST", "/v2.0/article/verify"): ("verify", self._verify),
            ("POST", "/v2.0/article/remove"): ("remove", self._remove),
            ("GET", "/v2.0/article/getslice"): ("read", self._getslice),
            ("GET", "/v2.0/article/getdetail"): ("read", self._getdetail),
            ("GET", "/v2.0/oa/getoa"): ("read", self._getoa),
            ("POST", "/v2.0/oa/upload/image"): ("upload", self._upload_image),
            ("POST", "/v2.0/oa/message"): ("message", self._broadcast),
        }
        for (method, path), (scope, handler) in routes.items():
            app.router.add_route(method, API_PREFIX + path, self._openapi(scope, handler))
        app.router.add_route("*", "/{tail:.*}", self._unknown_path)

    async def _unknown_path(self, request: web.Request) -> web.Response:
        self.log_request(request.method, request.path, dict(request.query))
        return json_response(envelope(404))

    def _openapi(self, scope: str, handler: Callable[..., Any]):
        """Wrap a handler with the token check, faults and the error envelope."""

        async def route(request: web.Request) -> web.StreamResponse:
            token = request.headers.get("access_token")
            self.log_request(request.method, request.path, dict(request.query))
            try:
                self._check_access(token)
                fault = self.faults.take(scope)
                if fault is not None and fault.kind == ERROR:
                    code = int(fault.params.get("code", -100))
                    if code in AUTH_ERRORS and fault.params.get("kill_token", True) and token:
                        self._dead_access[token] = code
                    raise ZaloError(code, fault.params.get("message"))
                payload = await _read_payload(request)
            except ZaloError as error:
                return json_response(envelope(error.code, error.message))

            async def commit() -> web.StreamResponse:
                try:
                    data = await handler(payload)
                except ZaloError as error:
                    return json_response(envelope(error.code, error.message))
                return json_response(envelope(0, data=data))

            return await self.apply_transport_fault(request, fault, commit)

        return route

    # -- tokens ----------------------------------------------------------------------------

    def _issue_access(self, token: str | None = None) -> str:
        token = token or f"zalo-access-{self.refresh_count}-{secrets.token_hex(4)}"
        self._access[token] = self.clock() + int(self.expires_in)
        return token

    def _check_access(self, token: str | None) -> None:
        if not token or token not in self._access:
            raise ZaloError(-216)
        if token in self._dead_access:
            raise ZaloError(self._dead_access[token])
        if self._access[token] <= self.clock():
            raise ZaloError(-216, "Access token has expired")

    async def _oauth(self, request: web.Request) -> web.StreamResponse:
        form = dict(await request.post())
        self.log_request("POST", request.path, {k: "<redacted>" for k in form})
        fault = self.faults.take("oauth")
        if fault is not None and fault.kind == ERROR:
            code = int(fault.params.get("code", OAUTH_INVALID_GRANT[0]))
            return json_response(_oauth_error((code, "injected"), "Injected failure"))
        problem = self._oauth_problem(request.headers.get("secret_key"), form)
        if problem:
            return json_response(problem)

        async def commit() -> web.StreamResponse:
            # Rotation happens here, before the answer is written, so a hang or a drop
            # after commit loses the new pair exactly like the real hazard in 2.3.
            self.auth_codes.discard(str(form.get("code")))
            self.refresh_count += 1
            self.refresh_token = f"zalo-refresh-{self.refresh_count}-{secrets.token_hex(4)}"
            access = self._issue_access()
            return json_response(
                {
                    "access_token": access,
                    "refresh_token": self.refresh_token,
                    "expires_in": self.expires_in,
                }
            )

        return await self.apply_transport_fault(request, fault, commit)

    def _oauth_problem(self, secret: str | None, form: dict[str, Any]) -> dict[str, Any] | None:
        if secret != self.secret_key:
            return _oauth_error(OAUTH_INVALID_SECRET, "secret_key is missing or invalid")
        if form.get("app_id") != self.app_id:
            return _oauth_error(OAUTH_INVALID_APP, "app_id is missing or invalid")
        grant = form.get("grant_type")
        if grant == "refresh_token":
            if not form.get("refresh_token"):
                return _oauth_error(OAUTH_INVALID_PARAMETER, "refresh_token is required")
            if form["refresh_token"] != self.refresh_token:
                return _oauth_error(OAUTH_INVALID_GRANT, "Refresh token is invalid or was used")
            return None
        if grant == "authorization_code":
            if form.get("code") not in self.auth_codes:
                return _oauth_error(OAUTH_INVALID_GRANT, "Authorization code is invalid")
            return None
        return _oauth_error(OAUTH_INVALID_PARAMETER, "grant_type is invalid")

    # -- article handlers ------------------------------------------------------------------

    async def _create(self, payload: Any) -> dict[str, Any]:
        problem = validate_article(payload)
        if problem:
            raise ZaloError(-201, problem)
        now = int(self.clock() * (1000 if self.create_date_unit == "ms" else 1))
        article = Article(
            id=uuid.uuid4().hex,
            type=payload["type"],
            title=payload["title"],
            description=payload["description"],
            author=payload.get("author"),
            cover=payload.get("cover"),
            body=payload.get("body") or [],
            status=payload.get("status", "hide"),
            comment=payload.get("comment", "show"),
            create_date=now,
            update_date=now,
            oa_id=self.oa_id,
            video_id=payload.get("video_id"),
        )
        self.articles[article.id] = article
        return {"token": self._new_verify_token(article)}

    async def _update(self, payload: Any) -> dict[str, Any]:
        article = self._article(payload.get("id") if isinstance(payload, dict) else None)
        problem = validate_article(payload)
        if problem:
            raise ZaloError(-201, problem)
        for key in ("title", "description", "author", "cover", "body", "video_id"):
            if key in payload:
                setattr(article, key, payload[key])
        article.status = payload.get("status", article.status)
        article.comment = payload.get("comment", article.comment)
        article.update_date = int(self.clock() * 1000)
        return {"token": self._new_verify_token(article)}

    def _new_verify_token(self, article: Article) -> str:
        token = secrets.token_hex(16)
        article.tokens.append(token)
        self._verify_tokens[token] = {"article_id": article.id, "calls": 0}
        return token

    async def _verify(self, payload: Any) -> dict[str, Any]:
        token = payload.get("token") if isinstance(payload, dict) else None
        entry = self._verify_tokens.get(str(token))
        if entry is None:
            raise ZaloError(-201, "token is invalid")
        entry["calls"] += 1
        if entry["calls"] <= self.verify_pending_calls:
            raise ZaloError(-214)
        article = self.articles.get(entry["article_id"])
        cover = (article.cover or {}).get("photo_url") if article else None
        if article is not None and cover in self.unfetchable_images:
            article.removed = True  # processing failed: no article exists (api-notes 0)
            raise ZaloError(-200)
        return {"id": entry["article_id"]}

    async def _remove(self, payload: Any) -> None:
        self._article(payload.get("id") if isinstance(payload, dict) else None).removed = True

    async def _getslice(self, query: dict[str, Any]) -> dict[str, Any]:
        kind = query.get("type")
        if kind not in ("normal", "video"):
            raise ZaloError(-201, "type accept only 2 value normal and video.")
        try:
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", self.max_slice))
        except ValueError as exc:
            raise ZaloError(-201, "offset and limit must be integers") from exc
        if offset < 0 or not 0 < limit <= self.max_slice:
            raise ZaloError(-201, f"limit must be between 1 and {self.max_slice}")
        found = [article for article in self.live_articles() if article.type == kind]
        medias = [article.summary() for article in found[offset : offset + limit]]
        return {"medias": medias, "total": len(found)}

    async def _getdetail(self, query: dict[str, Any]) -> dict[str, Any]:
        return self._article(query.get("id")).detail()

    async def _getoa(self, query: dict[str, Any]) -> dict[str, Any]:
        return {
            "oa_id": self.oa_id,
            "name": self.oa_name,
            "description": "Kênh thông tin chính thức (sandbox)",
            "avatar": "https://example.invalid/avatar.jpg",
            "cover": "https://example.invalid/cover.jpg",
            "is_verified": True,
            "num_follower": 1234,
        }

    async def _upload_image(self, form: dict[str, Any]) -> dict[str, Any]:
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise ZaloError(-201, "file is required")
        size = len(upload.file.read())
        if size > IMAGE_MAX_BYTES:
            raise ZaloError(-210, "Image size exceeds 1MB")
        attachment_id = secrets.token_urlsafe(24)
        self.uploads.append({"attachment_id": attachment_id, "name": upload.filename, "size": size})
        return {"attachment_id": attachment_id}

    async def _broadcast(self, payload: Any) -> dict[str, Any]:
        recipient = payload.get("recipient") if isinstance(payload, dict) else None
        if isinstance(recipient, dict) and "user_id" in recipient:
            raise ZaloError(-240)  # v2 one-to-one messages are retired; broadcast is not
        ids = broadcast_article_ids(payload)
        if isinstance(ids, str):
            raise ZaloError(-201, ids)
        for article_id in ids:
            self._article(article_id)
        message_id = secrets.token_hex(16)
        self.broadcasts.append(
            {
                "message_id": message_id,
                "article_ids": ids,
                "target": recipient.get("target") if isinstance(recipient, dict) else None,
                "at": self.clock(),
            }
        )
        return {"message_id": message_id}

    def _article(self, article_id: Any) -> Article:
        article = self.articles.get(str(article_id)) if article_id else None
        if article is None or article.removed:
            raise ZaloError(-201, "Article does not exist")
        return article


async def _read_payload(request: web.Request) -> Any:
    """JSON body for POSTs, multipart for uploads, the query string for GETs."""
    if request.method == "GET" or request.content_type.startswith("multipart/"):
        return dict(request.query) if request.method == "GET" else dict(await request.post())
    try:
        return await request.json()
    except ValueError as exc:
        raise ZaloError(-201, "Request body must be JSON") from exc


def _oauth_error(code_and_name: tuple[int, str], description: str) -> dict[str, Any]:
    """The refresh failure shape: no access_token; error, error_name, error_description."""
    code, name = code_and_name
    return {"error": code, "error_name": name, "error_description": description}
