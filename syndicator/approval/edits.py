"""What an editor's reply replaces in a stored post, per channel kind, re-validated.

Edit semantics (one text field per channel, the one readers see first):
- Facebook Page: the post text, `message` of a link post or `caption` of a photo post; the
  link and image stay. Limit: channels.facebook_render.MESSAGE_MAX.
- Zalo OA: the article `description` (the summary under the title), folded to one line; title
  (the reconciliation marker), body and cover stay. Limit: channels.zalo_render.DESCRIPTION_MAX.
`preview_text` is rebuilt the way the channel's renderer builds it, so the preview keeps showing
exactly what will be sent. Too long or empty text is refused, never silently cut.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from syndicator.storage.posts import PostRecord
from syndicator.types import Post


class EditError(ValueError):
    """The new text cannot be used; `reason` is "empty" or "too_long"."""

    def __init__(self, reason: str, length: int = 0, limit: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.length, self.limit = reason, length, limit


@dataclass(frozen=True, slots=True)
class EditRule:
    limit: int
    field: Callable[[dict[str, Any]], str]  # which payload key the edit replaces
    preview: Callable[[dict[str, Any]], str]  # the rebuilt preview_text
    one_line: bool = False
    # Whether the edited text must carry the article's URL: Facebook reconcile finds a post by
    # the article URL (in the link attachment or in the message, issue 9 point 4), so a photo
    # caption without it could never be matched after an unknown outcome.
    needs_url: Callable[[dict[str, Any]], bool] = lambda _payload: False


def _facebook_field(payload: dict[str, Any]) -> str:
    return "caption" if "caption" in payload else "message"


def _facebook_preview(payload: dict[str, Any]) -> str:
    # The same shapes as channels.facebook_render.render_facebook.
    if "caption" in payload:
        return f"{payload['caption']}\n\n[Ảnh: {payload['url']}]"
    message, link = payload["message"], payload.get("link") or ""
    return message if link in message else f"{message}\n\n[Liên kết: {link}]"


def default_rules() -> dict[str, EditRule]:
    """Rules keyed by channel kind, with the limits each channel module declares.

    Imported here, at run time, because syndicator/ must not depend on channels/ at import time
    (the same lazy import the CLI uses); tests may pass their own rules instead.
    """
    from channels.facebook_render import MESSAGE_MAX
    from channels.zalo_render import DESCRIPTION_MAX
    from channels.zalo_render import preview as zalo_preview

    return {
        "facebook_page": EditRule(
            MESSAGE_MAX,
            _facebook_field,
            _facebook_preview,
            needs_url=lambda payload: not payload.get("link"),
        ),
        "zalo_oa": EditRule(DESCRIPTION_MAX, lambda _p: "description", zalo_preview, one_line=True),
    }


def clean(text: str, *, one_line: bool) -> str:
    text = unicodedata.normalize("NFC", text).strip()
    return " ".join(text.split()) if one_line else text


def field_of(rule: EditRule, record: PostRecord) -> str:
    return rule.field(record.payload)


def apply_edit(record: PostRecord, rule: EditRule, text: str) -> Post:
    """The edited post: one field replaced, preview rebuilt; raises EditError when invalid."""
    return edit_keeping(record, rule, text, None)[0]


def edit_keeping(
    record: PostRecord, rule: EditRule, text: str, url: str | None
) -> tuple[Post, bool]:
    """Like apply_edit, and when the rule needs the article `url` in the text and the editor
    removed it, put it back at the end. Returns (post, whether the URL was put back)."""
    value = clean(text, one_line=rule.one_line)
    if not value:
        raise EditError("empty")
    restored = url is not None and rule.needs_url(record.payload) and url not in value
    if restored:
        value = f"{value}\n\n{url}"
    if len(value) > rule.limit:
        raise EditError("too_long", len(value), rule.limit)
    payload = {**record.payload, rule.field(record.payload): value}
    return replace(record.post, payload=payload, preview_text=rule.preview(payload)), restored
