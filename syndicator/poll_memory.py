"""What the poller remembers per source, so a changed feed costs only its new items.

Two memories per source, both tied to the document URL and the agency (the "context"):
- the hashes of the raw items of the last document stored, with the source's stamp (stored
  articles' count and latest update) as our own write left it: the next document is trimmed
  to the items not among them (sources/trim.py). Another writer changing the source's rows
  (a second daemon) changes the stamp, and the next document is then parsed whole;
- the raw entries last normalised: digest of each `Entry` -> (guid, content hash). An entry
  seen again byte for byte, whose guid still has that content hash in storage, is skipped
  (normalise and classify are pure, so storing it again would change nothing).

- the members of the last document stored: its items in document order, (item hash, guid)
  each, so the watcher knows which published articles are still in their feed (issue 12) and
  a trimmed document's members are known without parsing its old items.

They are written to `source_memory` with the poll record (trim.dump_memory, dump_members) and
read back by the poller only when that feed has changed (a 304 needs none of it), unless it
kept a compressed copy (`release`). The memory has its own table so a 304 rewrites nothing
of it (issue 11).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from syndicator.sources.trim import all_hashes, dump_memory, load_memory
from syndicator.storage import Storage, aio
from syndicator.types import Article

Context = tuple[str, str]  # (document URL, agency)
# Bytes of memories held compressed (`release(keep=...)`, `hold_stored`): about 2,000 sources of
# 20 items (a memory and its members are ~4.6 KB of JSON, ~2 KB compressed: the hashes in
# them do not compress), ten times a province's portals. Beyond it the oldest are dropped;
# their next change reads them back from the database, as before. Every held byte is a byte
# of the daemon's RSS: with SQLite's default page cache, holding the bench's 2,000 put its
# peak at 148-151 MB; with the 256 KiB cache (storage/engine.py) 140-141 MB, and 7-11 % less
# CPU in the steady state than 1 MiB held, run in pairs (docs/benchmarks.md, G1-G2).
HELD_BYTES = 4 * 1024 * 1024
# A document's items in order: (raw item hash, or None when the document does not split into
# items; the guid its entry normalised to, or None when it yielded no article).
Members = list[tuple[bytes | None, str | None]]


@dataclass(frozen=True, slots=True)
class _Seen:
    """The raw entries of a source's last stored document: digest -> (guid, content hash)."""

    context: Context
    entries: dict[bytes, tuple[str, str]]


def _packed(memory: str, members: str) -> bytes:
    """A memory and its members as held: one compressed text (a tenth of their objects'
    size; one stream, as the guids in both are then stored once: 17 % smaller than two).
    Neither JSON text holds a raw newline (json.dumps escapes them), so one parts them."""
    return zlib.compress(f"{memory}\n{members}".encode(), 1)


def _unpacked(held: bytes) -> tuple[str, str]:
    memory, _, members = zlib.decompress(held).decode().partition("\n")
    return memory, members


def build_members(
    guids: list[str | None],
    hashes: list[bytes] | None,
    *,
    trimmed_from: set[bytes] | None = None,
    previous: Members | None = None,
) -> Members | None:
    """The members of a document just stored (pure).

    `guids`: per parsed entry, in order. Parsed whole: they are the document's items (paired
    with the item hashes when the counts agree). Trimmed (`trimmed_from`: the known item
    hashes the document was trimmed against): they are the items not known, in order, and
    the known ones take their guid from `previous`. None when that cannot be told for sure.
    """
    if trimmed_from is None:
        if hashes is not None and len(hashes) == len(guids):
            return list(zip(hashes, guids, strict=True))
        return [(None, guid) for guid in guids]
    if hashes is None or previous is None:
        return None
    known = {h: g for h, g in previous if h is not None}
    fresh = iter(guids)
    members: Members = []
    for h in hashes:
        if h in trimmed_from:
            if h not in known:
                return None
            members.append((h, known[h]))
        else:
            guid = next(fresh, False)
            if guid is False:
                return None  # fewer entries than new items: no pairing to trust
            members.append((h, guid))  # type: ignore[arg-type]
    if next(fresh, False) is not False:
        return None
    return members


def dump_members(members: Members | None) -> str:
    if members is None:
        return ""
    return json.dumps(
        [[h.hex() if h is not None else None, g] for h, g in members],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def load_members(text: str | None) -> Members | None:
    """What dump_members wrote; None for anything missing or unreadable (not known)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        if not isinstance(data, list):
            return None
        return [
            (bytes.fromhex(h) if h is not None else None, str(g) if g is not None else None)
            for h, g in data
        ]
    except (ValueError, TypeError):
        return None


def member_guids(text: str | None) -> list[str] | None:
    """The guids of a stored document's items in order (the watcher's question), or None."""
    members = load_members(text)
    return None if members is None else [g for _, g in members if g is not None]


class SourceMemory:
    """Per source: the item hashes and the entry digests of the last document stored."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._seen: dict[str, _Seen] = {}
        # Per source: (context, the stored articles' stamp, hashes of the raw items stored).
        self._items: dict[str, tuple[Context, Any, set[bytes]]] = {}
        # Per source: the members of the last document stored (None: not known).
        self._members: dict[str, Members] = {}
        # Sources whose stored memory (a previous run's) was already looked for: restore().
        self._restored: set[str] = set()
        # Sources restored with item hashes but no members (a memory written before 0011):
        # their next document is parsed whole once, so its members become known.
        self._whole_once: set[str] = set()
        # Memories kept compressed (source -> memory and members in one stream, _packed),
        # oldest first: a changed feed's memory is then taken back without a storage hand-off
        # and a read.
        self._held: dict[str, bytes] = {}
        self._held_bytes = 0
        # Sources that had no stored memory when this poller started (learn_stored): their
        # first restore has nothing to read. A first poll of 2,000 new feeds read 2,000 empty
        # rows, one storage hand-off each: 12 % of its storage thread (issue 11). Consumed by
        # that first restore, so it never outlives the start it describes; a memory another
        # instance wrote meanwhile is only missed once (the document is then parsed whole,
        # as for a new source: nothing is skipped on a stale assumption).
        self._none_stored: set[str] = set()
        self._learned = False

    def learn_stored(self, source_ids: Iterable[str]) -> None:
        """Which of these sources have no stored memory (blocking: the storage thread); read
        once per poller, at its first tick or poll, and nothing after that."""
        if self._learned:
            return
        stored = self.storage.remembered_sources()
        self._none_stored = {sid for sid in source_ids if sid not in stored}
        self._learned = True

    def known_items(self, source_id: str, context: Context) -> tuple[Any, set[bytes]] | None:
        """(stamp, item hashes) remembered for this source in this context, if any."""
        known = self._items.get(source_id)
        if known is None or known[0] != context:
            return None
        if source_id in self._whole_once:
            self._whole_once.discard(source_id)
            return None
        return known[1], known[2]

    def members(self, source_id: str) -> Members | None:
        return self._members.get(source_id)

    def remember_members(self, source_id: str, members: Members | None) -> None:
        if members is None:
            self._members.pop(source_id, None)
        else:
            self._members[source_id] = members

    def dump_members(self, source_id: str) -> str:
        """What to store of this source's members ("" when not known)."""
        return dump_members(self._members.get(source_id))

    def remember_document(
        self,
        source_id: str,
        context: Context,
        body: bytes,
        stamp: Any,
        hashes: list[bytes] | None,
        guids: list[str | None],
        *,
        items: bool,
    ) -> None:
        """A document just stored whole and clean: its members, and (`items`: a feed that
        splits into raw items, not JSON) its item hashes. `hashes`: every item's hash when
        the document was trimmed (its parsed entries are then only the new items)."""
        known = self.known_items(source_id, context) if hashes is not None else None
        every = hashes if hashes is not None or not items else all_hashes(body)
        members = build_members(
            guids,
            every,
            trimmed_from=known[1] if known is not None else None,
            previous=self._members.get(source_id),
        )
        self.remember_members(source_id, members)
        if items:
            self.remember_items(source_id, context, body, stamp, every)

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
        self._members.pop(source_id, None)

    def forget(self, source_id: str) -> None:
        self.forget_items(source_id)
        self._seen.pop(source_id, None)
        self._drop_held(source_id)

    def release(self, source_id: str, keep: tuple[str, str] | None = None) -> None:
        """Hold none of this source's objects once its memory is in the poll record: the
        feed's next change takes it back (`restore`). Held as objects, 40,000 entries' digests
        were ~24 MB of a first poll's peak RSS (issue 11, docs/benchmarks.md).

        `keep`: the (memory, members) just dumped for the record, held compressed (a tenth of
        the objects' size, HELD_BYTES in all), so the next change needs no database read: in
        the steady state that read and its hand-off to the storage thread were ~4 % of the
        daemon's CPU (docs/benchmarks.md). The poller keeps them once its first wave is over:
        held from the first poll on, 2,000 sources' raised its peak RSS by 4-5 MB, to 145-149
        MB, too near the 150 MB goal."""
        self.forget(source_id)
        self._restored.discard(source_id)
        if keep is not None and keep[0]:
            self._hold(source_id, _packed(*keep))
            while self._held_bytes > HELD_BYTES:
                self._drop_held(next(iter(self._held)))

    def load_held(self, source_ids: list[str]) -> dict[str, bytes]:
        """The stored memories of these sources, compressed as `release` holds them
        (blocking: the storage thread). For `hold_stored`."""
        rows = self.storage.poll_memory_rows(source_ids)
        return {sid: _packed(text, members or "") for sid, (text, members) in rows.items()}

    def hold_stored(self, packed: dict[str, bytes]) -> int:
        """Hold what `load_held` read, once the first wave is over, for the sources holding
        nothing newer (released since, or taken back by a poll in flight), as long as it fits
        in HELD_BYTES: a feed's first change after the first wave then needs no read either.
        In the steady state most changes are a feed's first since the start, so `release`
        alone spared almost no read (docs/benchmarks.md). Returns how many were held."""
        held = 0
        for sid, text in packed.items():
            if sid in self._held or sid in self._items or sid in self._seen:
                continue
            if self._held_bytes + len(text) > HELD_BYTES:
                break
            self._hold(sid, text)
            held += 1
        return held

    @property
    def held_bytes(self) -> int:
        return self._held_bytes

    def _hold(self, source_id: str, text: bytes) -> None:
        self._drop_held(source_id)
        self._held[source_id] = text
        self._held_bytes += len(text)

    def _drop_held(self, source_id: str) -> None:
        held = self._held.pop(source_id, None)
        if held is not None:
            self._held_bytes -= len(held)

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
        if source_id in self._none_stored:
            self._none_stored.discard(source_id)
            return
        if source_id in self._items or source_id in self._seen:
            return
        held = self._take_held(source_id)
        text, members = held if held else await aio.call(self._stored, source_id)
        memory = load_memory(text) if text else None
        if memory is None:
            return
        context, stamp, items, seen = memory
        if items is not None and stamp is not None:
            self._items[source_id] = (context, stamp, items)
            if members is None:
                self._whole_once.add(source_id)
        if members is not None:
            self._members[source_id] = members
        if seen is not None:
            self._seen[source_id] = _Seen(context, seen)

    def _stored(self, source_id: str) -> tuple[str | None, Members | None]:
        """The stored memory and members of a source (blocking: the storage thread)."""
        text, members = self.storage.poll_memory_of(source_id)
        if not text:
            return None, None
        return text, load_members(members)

    def _take_held(self, source_id: str) -> tuple[str, Members | None] | None:
        """What `release` kept of this source, as `_stored` reads it; None when nothing."""
        held = self._held.get(source_id)
        if held is None:
            return None
        self._drop_held(source_id)
        memory, members = _unpacked(held)
        return memory, load_members(members)

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
