"""What the poller stored of each source's last document (the `source_memory` table), read
back: its memory (item hashes, entry digests) and its members (the items in order). Written
by `record_polls` with the poll outcome (storage/sources.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, select

from syndicator.storage.base import StorageBase
from syndicator.storage.models import SourceMemoryRow

_M = cast(Table, SourceMemoryRow.__table__)


class SourceMemoryMixin(StorageBase):
    def poll_memory_rows(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """Each source's memory and members, for the sources that have a memory (see
        PollRecord.memory and .members)."""
        return self._memory_rows(ids)

    def _memory_rows(self, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        if not ids:
            return {}
        query = select(_M.c.source_id, _M.c.memory, _M.c.members).where(
            _M.c.source_id.in_(list(ids)), _M.c.memory.is_not(None), _M.c.memory != ""
        )
        return {
            sid: (text, members) for sid, text, members in self._read_rows(query, {}, scalars=False)
        }

    def remembered_sources(self) -> set[str]:
        """The sources with a memory row (a poller's start: the others need no read). Only
        the key: a filter on the memory text would read each row's ~5 KB, ~9 MB for 2,000
        sources, where the primary key's index answers this alone. A row with an empty
        memory counts as remembered: it is looked for once, as before."""
        return set(self._read_rows(select(_M.c.source_id), {}))

    def poll_memories(self, ids: Sequence[str]) -> dict[str, str]:
        """What the poller remembered of each source's last document (see PollRecord.memory)."""
        return {sid: text for sid, (text, _) in self._memory_rows(ids).items()}

    def poll_memory_of(self, source_id: str) -> tuple[str | None, str | None]:
        """A source's memory and members in one read (a changed feed asks for both)."""
        return self._memory_rows([source_id]).get(source_id, (None, None))

    def poll_members(self, ids: Sequence[str]) -> dict[str, str]:
        """The items of each source's last stored document (see PollRecord.members)."""
        if not ids:
            return {}
        query = select(_M.c.source_id, _M.c.members).where(
            _M.c.source_id.in_(list(ids)), _M.c.members.is_not(None)
        )
        return {sid: text for sid, text in self._read_rows(query, {}, scalars=False)}
