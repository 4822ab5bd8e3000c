"""A stand-in for the Meta Graph API Page endpoints (api-notes.md section 1.8).

Scopes for faults: "publish" (POST feed/photos), "read" (every GET), "update" (POST to a
post id), "delete", "any".
Fault kinds: "error" (params code, subcode, message, estimated_time_to_regain_access; with
`commit=true` the call takes effect first and the error is answered after, see below),
"accept_then_hang" (hold), "drop", "drop_before", "http500_no_body", "slow" (delay).

`error` with `commit=true` on a create imitates a reported Graph behaviour: the post is
created and the answer is still code 1 or 2 with HTTP 500 (arsduo/koala#699: "photo
published 7 times" by retries of code 2; facebookarchive/php-graph-sdk#1141: code 1 on
/feed while "the link gets posted").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import Any

from aiohttp import web
from yarl import URL

from syndicator.sandbox.common import ERROR, SandboxServer, json_response
from syndicator.sandbox.graph_errors import THROTTLE_CODES, GraphError, Usage
from syndicator.sandbox.graph_posts import (
    Call,
    GraphPost,
    counter_of,
    decode_cursor,
    encode_cursor,
    missing_message,
    read_form,
    select_fields,
    token_from,
    truthy,
    unix,
)

VERSION = re.compile(r"^v\d+\.\d+$")
LIST_EDGES = ("published_posts", "posts", "feed")
MAX_LIMIT = 100
SCOPES = ["pages_manage_posts", "pages_read_engagement", "pages_show_list"]


class GraphServer(SandboxServer):
    """Graph API stand-in. `pages` maps a page id to the Page tokens that may act on it."""

    name = "graph"

    def __init__(
        self,
        pages: Mapping[str, Iterable[str]] | None = None,
        *,
        page_names: Mapping[str, str] | None = None,
        user_tokens: Iterable[str] = ("USER_TOKEN",),
        app_id: str = "100200300400",
        usage_per_call: int = 1,
        usage_headers: bool = True,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        pages = pages if pages is not None else {"1000000001": ["PAGE_TOKEN"]}
        self.pages = {page_id: set(tokens) for page_id, tokens in pages.items()}
        self.page_names = dict(page_names or {})
        self.user_tokens = set(user_tokens)
        self.app_id = app_id
        self.clock = clock
        self.usage = Usage(usage_per_call, usage_headers)
        self.posts: dict[str, GraphPost] = {}
        self.photos: dict[str, dict[str, Any]] = {}
        self.expired_tokens: set[str] = set()
        self.revoked_tokens: set[str] = set()
        self.token_expires_at: dict[str, int] = {}  # debug_token expires_at; absent = 0 (never)
        self.link_blocklist: set[str] = set()
        self._counters: dict[str, int] = {}
        self._photo_counter = 500000000000000
        self._last_message: dict[str, str] = {}

    # -- test API ----------------------------------------------------------------------------

    def expire_token(self, token: str) -> None:
        """Make `token` answer 190/463 from now on."""
        self.expired_tokens.add(token)

    def revoke_token(self, token: str) -> None:
        """Make `token` answer 190/460 (password changed / session invalidated) from now on."""
        self.revoked_tokens.add(token)

    def block_link(self, link: str) -> None:
        """Posts with this link fail with 1609005, as if Meta could not scrape it."""
        self.link_blocklist.add(link)

    def set_usage(self, **values: int) -> None:
        """Set the usage percentages; keys call_count, total_time, total_cputime, regain_minutes."""
        self.usage.set(**values)

    def live_posts(self, page_id: str | None = None) -> list[GraphPost]:
        """Posts that were not deleted, oldest first."""
        return [
            post
            for post in self.posts.values()
            if not post.deleted and (page_id is None or post.page_id == page_id)
        ]

    def state(self) -> dict[str, Any]:
        return {
            "posts": [asdict(post) for post in self.posts.values()],
            "photos": list(self.photos.values()),
            "expired_tokens": sorted(self.expired_tokens),
            "revoked_tokens": sorted(self.revoked_tokens),
            "link_blocklist": sorted(self.link_blocklist),
            "requests": len(self.requests),
        }

    def control_actions(self) -> dict[str, Callable[..., Any]]:
        return {
            **super().control_actions(),
            "expire_token": self.expire_token,
            "revoke_token": self.revoke_token,
            "block_link": self.block_link,
            "set_usage": self.set_usage,
        }

    # -- routing -----------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._dispatch)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [part for part in request.match_info["tail"].split("/") if part]
        params = dict(request.query)
        if request.method in ("POST", "DELETE") and request.can_read_body:
            params.update(await read_form(request))
        token = token_from(request, params)
        self.log_request(request.method, request.path, {**params, "access_token": "<redacted>"})
        page_hint = parts[1].split("_")[0] if len(parts) > 1 else None
        page_hint = page_hint if page_hint in self.pages else None
        self.usage.record_call()
        try:
            if not parts or not VERSION.match(parts[0]):
                raise GraphError(100, message="Unknown path components: /" + "/".join(parts))
            kind, handler = self._route(request.method, parts[1:])
            fault = self.faults.take(kind)
            if fault is not None and fault.kind == ERROR:
                code = int(fault.params.get("code", 1))
                regain = int(fault.params.get("estimated_time_to_regain_access", 5))
                headers = self.usage.headers(page_hint, regain if code in THROTTLE_CODES else None)
                error = GraphError(code, fault.params.get("subcode"), fault.params.get("message"))
                if fault.commits:  # created, then answered with the error (see the docstring)
                    await handler(Call(token, params, parts[1:], parts[0]))
                return error.response(headers)

            async def commit() -> web.StreamResponse:
                result = await handler(Call(token, params, parts[1:], parts[0]))
                return json_response(result, headers=self.usage.headers(page_hint))

            return await self.apply_transport_fault(request, fault, commit)
        except GraphError as error:
            return error.response(self.usage.headers(page_hint))

    def _route(self, method: str, parts: list[str]) -> tuple[str, Callable[..., Any]]:
        """Pick (fault scope, handler) for a path below the version segment."""
        if method == "GET" and parts == ["debug_token"]:
            return "read", self._debug_token
        if method == "GET" and parts == ["me", "accounts"]:
            return "read", self._accounts
        if len(parts) == 2 and parts[0] in self.pages:
            edge = parts[1]
            if method == "POST" and edge == "feed":
                return "publish", self._create_feed_post
            if method == "POST" and edge == "photos":
                return "publish", self._create_photo
            if method == "GET" and edge in LIST_EDGES:
                return "read", self._list_posts
        if len(parts) == 1 and method == "GET":
            return "read", self._get_object
        if len(parts) == 1 and method == "DELETE":
            return "delete", self._delete_object
        if len(parts) == 1 and method == "POST" and parts[0] not in self.pages:
            return "update", self._update_post
        raise GraphError(100, message=f"Unsupported {method.lower()} request.")

    # -- tokens ------------------------------------------------------------------------------

    def _check_token(self, token: str | None, page_id: str | None = None) -> str | None:
        """Validate a token; return the page it belongs to (None for a user token)."""
        if not token:
            raise GraphError(104)
        if token in self.expired_tokens:
            raise GraphError(190, 463)
        if token in self.revoked_tokens:
            raise GraphError(190, 460)
        owner = next((pid for pid, tokens in self.pages.items() if token in tokens), None)
        if owner is None and token not in self.user_tokens:
            raise GraphError(190, 467)
        if page_id is not None and owner is not None and owner != page_id:
            raise GraphError(200)
        return owner

    # -- handlers ----------------------------------------------------------------------------

    async def _create_feed_post(self, call: Call) -> dict[str, Any]:
        page_id = call.parts[0]
        self._check_token(call.token, page_id)
        message, link = call.params.get("message", ""), call.params.get("link") or None
        media = [value for key, value in call.params.items() if key.startswith("attached_media")]
        if not message and not link and not media:
            raise GraphError(100, message="(#100) Missing message or attachment")
        if link and link in self.link_blocklist:
            raise GraphError(1609005)
        if message and self._last_message.get(page_id) == message:
            raise GraphError(506)
        post = self._new_post(page_id, message, link, call.params)
        post.attached_media = media
        return {"id": post.id}

    async def _create_photo(self, call: Call) -> dict[str, Any]:
        page_id = call.parts[0]
        self._check_token(call.token, page_id)
        source = call.params.get("source")
        if call.params.get("url"):
            image = call.params["url"]
        elif isinstance(source, web.FileField):
            size = len(source.file.read())
            if size == 0:
                raise GraphError(324)
            image = f"{source.filename} ({size} bytes)"
        else:
            raise GraphError(324, message="(#324) Requires upload file")
        self._photo_counter += 1
        photo_id = str(self._photo_counter)
        caption = call.params.get("caption") or call.params.get("message") or ""
        photo: dict[str, Any] = {"id": photo_id, "page_id": page_id, "image": image}
        photo["caption"] = caption
        result: dict[str, Any] = {"id": photo_id}
        if truthy(call.params.get("published", "true")):
            post = self._new_post(page_id, caption, None, call.params)
            post.photo_id, post.image = photo_id, image
            photo["post_id"] = result["post_id"] = post.id
        self.photos[photo_id] = photo
        return result

    def _new_post(self, page_id: str, message: str, link: str | None, params) -> GraphPost:
        counter = self._counters.get(page_id, 0) + 1
        self._counters[page_id] = counter
        published = truthy(params.get("published", "true"))
        post = GraphPost(
            id=f"{page_id}_{counter}",
            page_id=page_id,
            message=message,
            link=link,
            created_time=self.clock(),
            is_published=published,
            scheduled_publish_time=params.get("scheduled_publish_time"),
        )
        self.posts[post.id] = post
        if message:
            self._last_message[page_id] = message
        return post

    async def _get_object(self, call: Call) -> dict[str, Any]:
        object_id = call.parts[0]
        self._check_token(call.token)
        if object_id in self.pages:
            return self._page_object(object_id, call.params)
        if object_id in self.photos:
            return dict(self.photos[object_id])
        post = self.posts.get(object_id)
        if post is None or post.deleted:
            raise GraphError(100, 33, missing_message(object_id))
        return select_fields(post, call.params.get("fields"))

    def _page_object(self, page_id: str, params) -> dict[str, Any]:
        page = {
            "id": page_id,
            "name": self.page_names.get(page_id, f"Sandbox Page {page_id}"),
            "category": "Government organization",
            "link": f"https://www.facebook.com/{page_id}",
            "access_token": sorted(self.pages[page_id])[0] if self.pages[page_id] else None,
        }
        wanted = [name for name in (params.get("fields") or "id,name").split(",") if name]
        return {name: page[name] for name in wanted if name in page}

    async def _update_post(self, call: Call) -> dict[str, Any]:
        """Pages API "Posts", Update a Post: `POST /{page-post-id}` with `message` edits the
        text and answers {"success": true}."""
        post = self.posts.get(call.parts[0])
        self._check_token(call.token, post.page_id if post else None)
        if post is None or post.deleted:
            raise GraphError(100, 33, missing_message(call.parts[0]))
        if "message" not in call.params:
            raise GraphError(100, message="(#100) Missing message")
        post.message = str(call.params["message"])
        return {"success": True}

    async def _delete_object(self, call: Call) -> dict[str, Any]:
        post = self.posts.get(call.parts[0])
        self._check_token(call.token, post.page_id if post else None)
        if post is None or post.deleted:
            raise GraphError(100, 33, missing_message(call.parts[0]))
        post.deleted = True
        if self._last_message.get(post.page_id) == post.message:
            del self._last_message[post.page_id]
        return {"success": True}

    async def _list_posts(self, call: Call) -> dict[str, Any]:
        page_id = call.parts[0]
        self._check_token(call.token, page_id)
        limit = int(call.params.get("limit", 25))
        if not 0 < limit <= MAX_LIMIT:
            raise GraphError(
                100, message=f"(#100) The limit parameter should not exceed {MAX_LIMIT}"
            )
        posts = [post for post in self.live_posts(page_id) if post.is_published]
        posts.sort(key=lambda post: (post.created_time, counter_of(post)), reverse=True)
        if call.params.get("since"):
            posts = [post for post in posts if post.created_time >= unix(call.params["since"])]
        if call.params.get("until"):
            posts = [post for post in posts if post.created_time <= unix(call.params["until"])]
        start = decode_cursor(call.params["after"]) + 1 if call.params.get("after") else 0
        page = posts[start : start + limit]
        fields = call.params.get("fields")
        body: dict[str, Any] = {"data": [select_fields(post, fields) for post in page]}
        if page:
            after = encode_cursor(start + len(page) - 1)
            paging: dict[str, Any] = {"cursors": {"before": encode_cursor(start), "after": after}}
            if start + len(page) < len(posts):
                query = {**call.params, "after": after, "limit": str(limit)}
                query.pop("access_token", None)
                url = f"{self.base_url}/{'/'.join([call.version, *call.parts])}"
                paging["next"] = str(URL(url).with_query(query))
            body["paging"] = paging
        return body

    async def _debug_token(self, call: Call) -> dict[str, Any]:
        if not call.token:
            raise GraphError(104)
        input_token = call.params.get("input_token")
        if not input_token:
            raise GraphError(100, message="(#100) The parameter input_token is required")
        page_id = next((pid for pid, toks in self.pages.items() if input_token in toks), None)
        data: dict[str, Any] = {
            "app_id": self.app_id,
            "type": "PAGE" if page_id else "USER",
            "application": "Syndicator Sandbox",
            "data_access_expires_at": 0,
            "expires_at": self.token_expires_at.get(input_token, 0),
            "is_valid": True,
            "scopes": SCOPES,
            "user_id": "900000000001",
        }
        if page_id:
            data["profile_id"] = page_id
        problem = None
        if input_token in self.expired_tokens:
            problem = (463, "Session has expired.")
            data["expires_at"] = data["expires_at"] or int(self.clock()) - 3600
        elif input_token in self.revoked_tokens:
            problem = (460, "The session has been invalidated.")
        elif page_id is None and input_token not in self.user_tokens:
            problem = (467, "Invalid OAuth access token.")
        if problem:
            data["is_valid"] = False
            data["error"] = {"code": 190, "subcode": problem[0], "message": problem[1]}
        return {"data": data}

    async def _accounts(self, call: Call) -> dict[str, Any]:
        owner = self._check_token(call.token)
        page_ids = [owner] if owner else list(self.pages)
        data = []
        for page_id in page_ids:
            page = self._page_object(page_id, {"fields": "id,name,category,access_token"})
            data.append({**page, "tasks": ["MANAGE", "CREATE_CONTENT", "MODERATE"]})
        return {"data": data, "paging": {"cursors": {"before": "MAZDZD", "after": "MAZDZD"}}}
