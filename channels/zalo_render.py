"""Article -> Zalo OA article: exactly the `article/create` body of api-notes 2.4.A. Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jinja2

from channels.render_common import (
    html_blocks,
    render_block,
    template_context,
    template_environment,
    with_utm,
)
from channels.text import one_line, truncate
from syndicator.types import Article, Post

if TYPE_CHECKING:
    from channels.zalo_oa import ZaloOASettings

# Documented limits are 150 / 300 / 50 (api-notes 2.4.A), but production clients report
# titles of exactly 150 characters refused and back off to about 140 and 250 (api-notes 0,
# [U]); we keep that margin. A length refusal still gets one shorter retry (zalo_oa).
TITLE_LIMIT, DESCRIPTION_LIMIT = 150, 300
TITLE_MAX = 140
DESCRIPTION_MAX = 250
AUTHOR_MAX = 50
# No body limit is documented (api-notes 2.4 [U]); one public client caps the text at
# 10,000 characters and so do we, keeping whole blocks and always the closing block.
BODY_TEXT_MAX = 10_000


def render_zalo(
    article: Article,
    settings: ZaloOASettings,
    *,
    channel: str,
    env: jinja2.Environment | None = None,
) -> Post:
    """The Zalo article for `article`; `marker` is the title, which reconciliation matches."""
    env = env or template_environment(settings.template_dir)
    link = with_utm(article.url, settings.utm)
    context = template_context(article, link)
    template = env.get_template(settings.template)
    title = truncate(one_line(article.title), TITLE_MAX)
    description = truncate(
        one_line(render_block(template, "description", context)), DESCRIPTION_MAX
    )
    author = truncate(one_line(settings.author or article.agency), AUTHOR_MAX)
    closing = {"type": "text", "content": render_block(template, "closing", context)}
    payload: dict[str, Any] = {
        "type": "normal",
        "title": title,
        "author": author,
        "cover": {
            "cover_type": "photo",
            "photo_url": article.image_url or settings.default_cover_url,
            "status": "show",
        },
        "description": description or title,
        "body": [*_without(description, _body_blocks(article)), closing],
        "status": settings.status,
        "comment": settings.comment,
    }
    return Post(
        channel=channel,
        article_id=article.id,
        payload=payload,
        preview_text=preview(payload),
        marker=title,
    )


def _body_blocks(article: Article) -> list[dict[str, str]]:
    """Blocks from the content, else the summary; within the text budget."""
    blocks = html_blocks(article.content_html) if article.content_html.strip() else []
    if not any(block["type"] == "text" for block in blocks) and article.summary.strip():
        blocks = [{"type": "text", "content": article.summary.strip()}, *blocks]
    kept: list[dict[str, str]] = []
    used = 0
    for block in blocks:
        size = len(block.get("content", ""))
        if used + size > BODY_TEXT_MAX:
            break
        kept.append(block)
        used += size
    return kept


def _without(description: str, blocks: list[dict[str, str]]) -> list[dict[str, str]]:
    """The body without text that only repeats the description shown above it (a feed whose
    content is its summary). A cut description does not count: the body keeps the whole."""
    shown = one_line(description)
    return [
        block
        for block in blocks
        if not (block["type"] == "text" and shown and one_line(block["content"]) == shown)
    ]


def preview(payload: dict[str, Any]) -> str:
    """What staff read before approving: title, description, then the body as text."""
    lines = [payload["title"], "", payload["description"], ""]
    for block in payload["body"]:
        if block["type"] == "text":
            lines += [block["content"], ""]
        elif block["type"] == "image":
            lines += [f"[Ảnh: {block['url']}]", ""]
    lines.append(f"[Ảnh bìa: {payload['cover']['photo_url']}]")
    return "\n".join(lines)
