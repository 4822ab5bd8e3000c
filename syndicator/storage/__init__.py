"""The one data-access surface. Every method may raise StorageError; every datetime is aware UTC.

Sessions and transactions stay in here; callers get frozen values (Article, SourceState, ...).
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from syndicator.storage.approval import ApprovalMixin
from syndicator.storage.approvers import ApproversMixin
from syndicator.storage.articles import ArticlesMixin, IngestResult
from syndicator.storage.audit_log import AuditMixin
from syndicator.storage.channels import ChannelsMixin, ChannelStatus, StoredTokens
from syndicator.storage.engine import make_engine, upgrade
from syndicator.storage.posts import PostPlan, PostRecord, PostsMixin
from syndicator.storage.sources import PollRecord, SourcesMixin, SourceState

__all__ = [
    "ChannelStatus",
    "IngestResult",
    "PollRecord",
    "PostPlan",
    "PostRecord",
    "SourceState",
    "Storage",
    "StoredTokens",
    "open_storage",
]


class Storage(
    SourcesMixin, ArticlesMixin, PostsMixin, ChannelsMixin, AuditMixin, ApprovalMixin,
    ApproversMixin,
):  # fmt: skip
    """Verb methods over the database (see the mixins for each area)."""

    def ping(self) -> bool:
        with self._read() as session:
            return session.execute(text("SELECT 1")).scalar() == 1

    def close(self) -> None:
        self.engine.dispose()


def open_storage(url: str, *, busy_timeout_s: float = 30.0, migrate: bool = True) -> Storage:
    """Connect and (by default) bring the schema up to date."""
    engine: Engine = make_engine(url, busy_timeout_s)
    if migrate:
        upgrade(engine)
    return Storage(engine)
