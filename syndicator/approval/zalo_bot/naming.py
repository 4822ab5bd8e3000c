"""What the Zalo surface shows of decisions: the revision a preview carries and who decided.

Decisions themselves go through the one core, `syndicator/approval/decisions.py`; the revision
is the same one the Telegram buttons carry (`approval.buttons.revision`), so a preview seen on
either surface is checked the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from syndicator.approval.buttons import revision
from syndicator.approval.preview import actor_name
from syndicator.approval.zalo_bot import texts as T
from syndicator.storage import PostRecord


def revision_of(posts: Iterable[PostRecord]) -> str:
    """The revision of an article's posts as a preview shows it (8 hex digits)."""
    return revision(posts)


def name_of(decided_by: str | None) -> str:
    """'zalo_bot:42 Nguyễn Văn A' (or the older '... (Nguyễn Văn A)') → 'Nguyễn Văn A';
    rules and the system get a word in the Zalo texts."""
    if not decided_by:
        return T.SYSTEM
    if decided_by.startswith("rule") or decided_by == "auto":
        return T.RULE
    if decided_by.startswith("approval:"):
        return T.SYSTEM
    return actor_name(decided_by)
