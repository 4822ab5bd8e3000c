"""The one data-access surface. Every method may raise StorageError; every datetime is aware UTC.

Sessions and transactions stay in here; callers get frozen values (Article, SourceState, ...).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Engine, text

from syndicator.audit import audit_key_from_env
from syndicator.errors import ConfigError
from syndicator.storage.aftercare import AftercareMixin
from syndicator.storage.approval import ApprovalMixin
from syndicator.storage.approvers import ApproversMixin
from syndicator.storage.articles import ArticlesMixin, IngestResult
from syndicator.storage.audit_log import AuditMixin
from syndicator.storage.channels import ChannelsMixin, ChannelStatus, StoredTokens
from syndicator.storage.drain import DrainMixin, DrainState
from syndicator.storage.engine import make_engine, upgrade
from syndicator.storage.planning import PlanningMixin
from syndicator.storage.posts import PostPlan, PostRecord, PostsMixin
from syndicator.storage.source_memory import SourceMemoryMixin
from syndicator.storage.sources import PollRecord, SourcesMixin, SourceState

__all__ = [
    "ChannelStatus",
    "DrainState",
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
    DrainMixin, SourcesMixin, ArticlesMixin, PlanningMixin, PostsMixin, ChannelsMixin, AuditMixin, ApprovalMixin,
    ApproversMixin, AftercareMixin, SourceMemoryMixin,
):  # fmt: skip
    """Verb methods over the database (see the mixins for each area)."""

    def ping(self) -> bool:
        with self._read() as session:
            return session.execute(text("SELECT 1")).scalar() == 1

    def close(self) -> None:
        self.engine.dispose()


def open_storage(
    url: str,
    *,
    busy_timeout_s: float = 30.0,
    migrate: bool = True,
    audit_key: bytes | Literal["env"] | None = "env",
) -> Storage:
    """Connect and (by default) bring the schema up to date.

    The audit key comes from the environment unless given (None: an unkeyed chain). Migrating
    with a key seals a trail written before the key existed (see AuditMixin.seal_legacy_trail).
    """
    if audit_key == "env":
        try:
            audit_key = audit_key_from_env(os.environ)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
    engine: Engine = make_engine(url, busy_timeout_s)
    storage = Storage(engine, audit_key)
    if migrate:
        upgrade(engine)
        storage.seal_legacy_trail(datetime.now(UTC))
    return storage
