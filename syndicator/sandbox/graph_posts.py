"""Graph stand-in helpers: the post record, request parsing, field selection and cursors."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from syndicator.sandbox.graph_errors import GraphError

POST_FIELDS = (
    "id", "message", "created_time", "permalink_url", "is_published", "full_picture",
    "attachments",
)  # fmt: skip
DEFAULT_POST_FIELDS = ("id", "message", "created_time")
# Since v3.3 these Post fields fail the whole request with (#12) (Graph "Post" reference,
# Limitations; the error text as quoted in FriendsOfREDAXO/feeds#179 and
# rezozero/mixedfeed#21; restfb/restfb#990 maps `link` to attachments' url_unshimmed).
DEPRECATED_POST_FIELDS = ("caption", "description", "link", "name", "object_id", "source", "type")
DEPRECATED_MESSAGE = (
    "(#12) deprecate_post_aggregated_fields_for_attachement is deprecated for versions v3.3 "
    "and higher"
)
ATTACHMENT_FIELDS = ("description", "media", "media_type", "target", "title", "type", "url",
                     "unshimmed_url")  # fmt: skip


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

    def attachment(self) -> dict[str, Any] | None:
        """The post's attachment as Graph shows it: a link post's shared URL (shimmed through
        l.facebook.com in `url`, the original in `unshimmed_url`), or a photo post's photo."""
        if self.photo_id:
            url = f"https://www.facebook.com/photo.php?fbid={self.photo_id}"
            return {"media_type": "photo", "type": "photo", "url": url,
                    "target": {"id": self.photo_id, "url": url}}  # fmt: skip
        if self.link:
            shim = "https://l.facebook.com/l.php?u=" + quote(self.link, safe="")
            return {"media_type": "link", "type": "share", "url": shim,
                    "unshimmed_url": self.link, "target": {"url": shim}}  # fmt: skip
        return None

    def field_value(self, name: str, sub: list[str] | None = None) -> Any:
        if name == "attachments":
            found = self.attachment()
            if found is None:
                return None
            if sub:
                found = {key: value for key, value in found.items() if key in sub}
            return {"data": [found]}
        if name == "full_picture":
            return self.image if self.photo_id and self.image and "://" in self.image else None
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


def parse_fields(fields: str) -> list[tuple[str, list[str] | None]]:
    """`a,b{c,d},e` -> [(a, None), (b, [c, d]), (e, None)] (Graph's nested field syntax)."""
    out: list[tuple[str, list[str] | None]] = []
    depth, start = 0, 0
    for index, char in enumerate(fields + ","):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            item = fields[start:index].strip()
            start = index + 1
            if not item:
                continue
            if "{" in item:
                name, _, rest = item.partition("{")
                out.append((name.strip(), [f.strip() for f in rest.rstrip("}").split(",")]))
            else:
                out.append((item, None))
    if depth != 0:
        raise GraphError(100, message="(#100) Syntax error in the fields parameter")
    return out


def select_fields(post: GraphPost, fields: str | None) -> dict[str, Any]:
    wanted = parse_fields(fields or ",".join(DEFAULT_POST_FIELDS))
    for name, sub in wanted:
        if name in DEPRECATED_POST_FIELDS:
            raise GraphError(12, message=DEPRECATED_MESSAGE)
        if name not in POST_FIELDS:
            raise GraphError(100, message=f"(#100) Tried accessing nonexisting field ({name})")
        for part in sub or []:
            if name == "attachments" and part not in ATTACHMENT_FIELDS:
                raise GraphError(100, message=f"(#100) Tried accessing nonexisting field ({part})")
    result = {name: post.field_value(name, sub) for name, sub in wanted}
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
