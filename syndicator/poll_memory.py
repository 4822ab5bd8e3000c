"""What the poller remembers per source, so a changed feed costs only its new items.

Two memories per source, both tied to the document URL and the agency (the "context"):
- the hashes of the raw items of the last document stored, with the source's stamp (stored
  articles' count and latest update) as our own write left it: the next document is trimmed
  to the items not among them (sources/trim.py). Another writer changing the source's rows
  (a second daemon) changes the stamp, and the next document is then parsed whole;
- the raw entries last normalised: digest of each `Entry` -> (guid, content hash). An entry
  seen again byte for byte, whose guid still has that content hash in storage, is skipped
  (normalise and classify are pure, so storing it again would change nothing).

Both are written to the source row with the poll record (trim.dump_memory) and read back once
per source by a new poller, only when that feed has changed (a 304 needs none of it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from syndicator.sources.trim import all_hashes, dump_memory, load_memory
from syndicator.storage import Storage, aio
from syndicator.types import Article, Entry

Context = tuple[str, str]  # (document URL, agency)


@dataclass(frozen=True, slots=True)
class _Seen:
    """The raw entries of a source's last stored document: digest -> (guid, content hash)."""

    context: Context
    entries: dict[bytes, tuple[str, str]]


def digest(entry: Entry) -> bytes:
    """A digest of everything a raw entry holds (its repr spells out every field)."""
    return hashlib.blake2b(repr(entry).encode("utf-8", "surrogatepass"), digest_size=16).digest()


class SourceMemory:
    """Per source: the item hashes and the entry digests of the last document stored."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._seen: dict[str, _Seen] = {}
        # Per source: (context, the stored articles' stamp, hashes of the raw items stored).
        self._items: dict[str, tuple[Context, Any, set[bytes]]] = {}
        # Sources whose stored memory (a previous run's) was already looked for: restore().
        self._restored: set[str] = set()

    def known_items(self, source_id: str, context: Context) -> tuple[Any, set[bytes]] | None:
        """(stamp, item hashes) remembered for this source in this context, if any."""
        known = self._items.get(source_id)
        if known is None or known[0] != context:
            return None
        return known[1], known[2]

    def remember_items(
        self,
        source_id: str,
        context: Context,
        body: bytes,
        stamp: Any,
        hashes: list[bytes] | None = None,
    ) -> None:
        """The raw items just stored, with the stamp our own write left behind (or, when
        nothing was written, the stamp the caller read). `hashes`: the items' hashes when
        trimming already computed them from this body (no second split)."""
        self._items[source_id] = (
            context,
            stamp,
            set(all_hashes(body) if hashes is None else hashes),
        )

    def forget_items(self, source_id: str) -> None:
        self._items.pop(source_id, None)

    def forget(self, source_id: str) -> None:
        self._items.pop(source_id, None)
        self._seen.pop(source_id, None)

    def release(self, source_id: str) -> None:
        """Hold nothing of this source once its memory is in the poll record: the feed's next
        change reads it back (`restore`). Held, 40,000 entries' digests were ~24 MB of a first
        poll's peak RSS (issue 11, docs/benchmarks.md)."""
        self.forget(source_id)
        self._restored.discard(source_id)

    def dump(self, source_id: str) -> str:
        """What to store of this source's memory (trim.dump_memory); "" forgets it."""
        items, seen = self._items.get(source_id), self._seen.get(source_id)
        if items is None and seen is None:
            return ""
        context = items[0] if items is not None else seen.context  # type: ignore[union-attr]
        if seen is not None and seen.context != context:
            seen = None
        return dump_memory(
            context,
            items[1] if items is not None else None,
            items[2] if items is not None else None,
            seen.entries if seen is not None else None,
        )

    async def restore(self, source_id: str) -> None:
        """Once per source: take back what a previous run remembered of its last document.

        It is as safe as the memory of a running poller: the stamp and the stored content
        hashes are checked against the database before anything is skipped.
        """
        if source_id in self._restored:
            return
        self._restored.add(source_id)
        if source_id in self._items or source_id in self._seen:
            return
        text = (await aio.call(self.storage.poll_memories, [source_id])).get(source_id)
        memory = load_memory(text) if text else None
        if memory is None:
            return
        context, stamp, items, seen = memory
        if items is not None and stamp is not None:
            self._items[source_id] = (context, stamp, items)
        if seen is not None:
            self._seen[source_id] = _Seen(context, seen)

    def skip_known(self, source_id: str, context: Context, digests: list[bytes]) -> dict[int, str]:
        """Entries (index -> guid) that would only be found unchanged again: skip them.

        An entry is skipped when it is byte for byte the raw entry this poller last normalised
        for the source (same document URL and agency, the same rules: normalise and classify
        are pure), *and* the stored content hash of its guid is still the hash it normalised
        to. Storing it again would then change nothing (add_articles: same guid, same hash),
        so de-duplication, change detection and the audit trail see exactly what they would
        have. Runs on the storage thread (it reads the stored content hashes).
        """
        previous = self._seen.get(source_id)
        if previous is None or previous.context != context:
            return {}
        candidates = {
            i: previous.entries[d] for i, d in enumerate(digests) if d in previous.entries
        }
        if not candidates:
            return {}
        stored = self.storage.content_hashes(
            source_id, list({guid for guid, _ in candidates.values()})
        )
        return {i: guid for i, (guid, h) in candidates.items() if stored.get(guid) == h}

    def remember_entries(
        self,
        source_id: str,
        context: Context,
        digests: list[bytes],
        skipped: dict[int, str],
        articles: list[tuple[int, Article]],
    ) -> None:
        """The entries of the document just stored: the skipped ones as they were, the
        normalised ones with the content hash they normalised to."""
        previous = self._seen.get(source_id)
        seen: dict[bytes, tuple[str, str]] = {}
        if previous is not None and skipped:
            seen = {digests[i]: previous.entries[digests[i]] for i in skipped}
        seen.update((digests[i], (a.guid, a.content_hash)) for i, a in articles)
        self._seen[source_id] = _Seen(context, seen)
