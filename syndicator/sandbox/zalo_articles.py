"""Zalo OA stand-in pieces with no HTTP in them: error texts, article records, validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The documented limits (api-notes 2.4.A). A title of exactly the limit is refused too, as
# production clients report (api-notes 0, [U]): `len >= TITLE_MAX` fails here.
TITLE_MAX = 150
AUTHOR_MAX = 50
DESCRIPTION_MAX = 300
IMAGE_MAX_BYTES = 1024 * 1024
BODY_ITEM_TYPES = ("text", "image", "video", "product")

# Texts follow what public clients logged; the exact wording is not contractual (2.7).
ERROR_MESSAGES = {
    -100: "Unknown error. Please try again later",
    -200: "Upload media failed",  # at verify, for an image Zalo could not fetch (api-notes 0)
    -201: "Parameters are invalid",
    -210: "Parameter exceeds the allowed limit",
    -211: "Out of quota for this feature",
    -214: "Article is being processed. Please try again later",
    -216: "Access token is invalid",
    -220: "Access token has expired or is no longer usable",
    -223: "OA has exceeded the content publishing quota for this period",
    -224: "OA has not purchased the service package for this feature",
    -240: "Message API V2 is no longer working, please move to V3",
    404: "You are accessing an empty or invalid API. Please check the request path.",
}

# OAuth v4 failure codes were not found in any source (api-notes 2.3, point 7 of section 5);
# these are the sandbox's own picks in the -14xxx family the notes mention.
OAUTH_INVALID_PARAMETER = (-14003, "invalid_parameter")
OAUTH_INVALID_APP = (-14001, "invalid_app_id")
OAUTH_INVALID_SECRET = (-14014, "invalid_secret_key")
# A spent (single-use) or unknown refresh token: the code the issue reports from the field
# when a second process refreshed first (api-notes 0, "refresh tokens are single-use across
# every process").
OAUTH_INVALID_GRANT = (-14020, "invalid_grant")


def envelope(code: int, message: str | None = None, data: Any = None) -> dict[str, Any]:
    """The `{"error", "message", "data"}` body every OpenAPI answer uses (2.2)."""
    body: dict[str, Any] = {
        "error": code,
        "message": message or ("Success" if code == 0 else ERROR_MESSAGES.get(code, "Error")),
    }
    if data is not None:
        body["data"] = data
    return body


class ZaloError(Exception):
    """Raised inside a handler to answer HTTP 200 with a negative `error`."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or ERROR_MESSAGES.get(code, str(code)))
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, "Error")


@dataclass
class Article:
    """One OA article as the sandbox stores it; times are unix milliseconds like Zalo's."""

    id: str
    type: str
    title: str
    description: str
    author: str | None
    cover: dict[str, Any] | None
    body: list[dict[str, Any]]
    status: str
    comment: str
    create_date: int
    update_date: int
    oa_id: str
    removed: bool = False
    tokens: list[str] = field(default_factory=list)
    video_id: str | None = None

    def summary(self) -> dict[str, Any]:
        """The getslice item shape (2.4 D)."""
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "total_view": 0,
            "total_share": 0,
            "create_date": self.create_date,
            "update_date": self.update_date,
            "thumb": (self.cover or {}).get("photo_url", ""),
            "link_view": f"https://zalo.me/{self.oa_id}/article/{self.id}",
        }

    def detail(self) -> dict[str, Any]:
        """The getdetail shape (2.4 C)."""
        data = self.summary()
        data.update(
            author=self.author,
            description=self.description,
            cover=self.cover,
            body=self.body,
            comment=self.comment,
        )
        return data


def validate_article(payload: Any) -> str | None:
    """Return why Zalo would answer -201 for a create/update body, or None when it is valid."""
    if not isinstance(payload, dict):
        return "Request body must be a JSON object"
    kind = payload.get("type")
    if kind not in ("normal", "video"):
        return "type accept only 2 value normal and video."
    problems = [
        _text_problem(payload, "title", TITLE_MAX - 1, required=True),
        _text_problem(payload, "description", DESCRIPTION_MAX, required=True),
        _text_problem(payload, "author", AUTHOR_MAX, required=kind == "normal"),
    ]
    for key, default in (("status", "hide"), ("comment", "show")):
        if payload.get(key, default) not in ("show", "hide"):
            problems.append(f"{key} accept only 2 value show and hide.")
    if kind == "video":
        if not payload.get("video_id"):
            problems.append("video_id is required for a video article")
    else:
        problems.append(_cover_problem(payload.get("cover")))
        problems.append(_body_problem(payload.get("body")))
    return next((problem for problem in problems if problem), None)


def _text_problem(payload: dict[str, Any], key: str, limit: int, required: bool) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return f"{key} is required" if required else None
    if not isinstance(value, str):
        return f"{key} must be a string"
    if len(value) > limit:
        return f"{key} length exceeds the limit ({len(value)} characters)"
    return None


def _cover_problem(cover: Any) -> str | None:
    if not isinstance(cover, dict):
        return "cover is required"
    kind = cover.get("cover_type")
    if kind == "photo" and isinstance(cover.get("photo_url"), str) and cover["photo_url"]:
        return None
    if kind == "video" and cover.get("video_id"):
        return None
    return "cover value is invalid"


def _body_problem(body: Any) -> str | None:
    if not isinstance(body, list) or not body:
        return "body is required"
    for item in body:
        if not isinstance(item, dict) or item.get("type") not in BODY_ITEM_TYPES:
            return "body item type is invalid"
        if item["type"] == "text" and not isinstance(item.get("content"), str):
            return "body text item needs content"
        if item["type"] == "image" and not item.get("url"):
            return "body image item needs url"
    return None


def broadcast_article_ids(payload: Any) -> list[str] | str:
    """Article ids a broadcast body names, or why the body is invalid (2.6)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("recipient"), dict):
        return "recipient is required"
    try:
        attachment = payload["message"]["attachment"]
        elements = attachment["payload"]["elements"]
    except (KeyError, TypeError):
        return "message.attachment.payload.elements is required"
    if attachment.get("type") != "template" or not isinstance(elements, list) or not elements:
        return "attachment must be a media template with elements"
    ids = []
    for element in elements:
        if not isinstance(element, dict) or element.get("media_type") != "article":
            return "only article elements are supported"
        ids.append(str(element.get("attachment_id", "")))
    return ids
