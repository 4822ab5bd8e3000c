"""Graph stand-in helpers: the post record, request parsing, field selection and cursors."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from syndicator.sandbox.graph_errors import GraphError

POST_FIELDS = ("id", "message", "created_time", "permalink_url", "is_published", "link")
DEFAULT_POST_FIELDS = ("id", "message", "created_time")


@dataclass
class Call:
    """One parsed request: its token, merged query/body parameters and the path pieces."""

    token: str | None
    params: dict[str, Any]
    parts: list[str]  # below the version segment
    version: str


@dataclass
class GraphPost:
    """One post on a Page, as the sandbox remembers it."""

    id: str
    page_id: str
    message: str
    link: str | None
    created_time: float
    is_published: bool = True
    scheduled_publish_time: str | None = None
    photo_id: str | None = None
    image: str | None = None  # the photo's url, or "<upload name> (<bytes> bytes)"
    attached_media: list[str] = field(default_factory=list)
    deleted: bool = False

    def field_value(self, name: str) -> Any:
        if name == "created_time":
            return datetime.fromtimestamp(self.created_time, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        if name == "permalink_url":
            return f"https://www.facebook.com/{self.page_id}/posts/{self.id.split('_', 1)[1]}"
        return getattr(self, name)


async def read_form(request: web.Request) -> dict[str, Any]:
    """urlencoded and multipart bodies both; file parts stay FileField objects."""
    if request.content_type == "application/json":
        return dict(await request.json())
    return dict(await request.post())


def token_from(request: web.Request, params: Mapping[str, Any]) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    token = params.get("access_token")
    return token if isinstance(token, str) else None


def select_fields(post: GraphPost, fields: str | None) -> dict[str, Any]:
    wanted = [name.strip() for name in (fields or ",".join(DEFAULT_POST_FIELDS)).split(",")]
    for name in wanted:
        if name and name not in POST_FIELDS:
            raise GraphError(100, message=f"(#100) Tried accessing nonexisting field ({name})")
    result = {name: post.field_value(name) for name in wanted if name}
    return {key: value for key, value in result.items() if value is not None}


def missing_message(object_id: str) -> str:
    return (
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation."
    )


def truthy(value: Any) -> bool:
    return str(value).lower() not in ("false", "0", "")


def unix(value: str) -> float:
    if value.lstrip("-").isdigit():
        return float(value)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise GraphError(100, message=f"(#100) Invalid time value {value!r}") from exc


def counter_of(post: GraphPost) -> int:
    return int(post.id.split("_", 1)[1])


def encode_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"i:{index}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()[2:])
    except ValueError as exc:
        raise GraphError(100, message="(#100) Invalid cursor") from exc
