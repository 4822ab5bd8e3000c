"""Article -> Facebook Page post. Pure: the same article and settings give the same bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jinja2

from channels.render_common import template_context, template_environment, tidy, with_utm
from channels.text import truncate
from syndicator.types import Article, Post

if TYPE_CHECKING:
    from channels.facebook_page import FacebookPageSettings

# A widely repeated third-party figure (api-notes 1.3, [U]); the summary budget keeps posts
# far below it anyway.
MESSAGE_MAX = 63206
# Our own choice: a feed post is a teaser for the article, not the article.
SUMMARY_MAX = 1000
TITLE_MAX = 300


def render_facebook(
    article: Article,
    settings: FacebookPageSettings,
    *,
    channel: str,
    env: jinja2.Environment | None = None,
) -> Post:
    """The Facebook post for `article`: a link post, or a photo post when asked and possible.

    `marker` is the canonical article URL; reconciliation compares it with the canonical form
    of the links it finds in recent posts (UTM parameters do not disturb the match).
    """
    env = env or template_environment(settings.template_dir)
    link = with_utm(article.url, settings.utm)
    context = template_context(article, link)
    context["title"] = truncate(context["title"], TITLE_MAX)
    context["summary"] = truncate(context["summary"], SUMMARY_MAX)
    if not settings.hashtags:
        context["hashtags"] = []
    message = truncate(tidy(env.get_template(settings.template).render(context)), MESSAGE_MAX)
    if settings.post_as == "photo" and article.image_url:
        payload = {"url": article.image_url, "caption": message}
        preview = f"{message}\n\n[Ảnh: {article.image_url}]"
    else:
        payload = {"message": message, "link": link}
        preview = message if link in message else f"{message}\n\n[Liên kết: {link}]"
    return Post(
        channel=channel,
        article_id=article.id,
        payload=payload,
        preview_text=preview,
        marker=article.canonical_url,
    )
