"""From a fetched document to classified articles: everything a poll does before storing.

Pure functions of the document, the source, `now` and the rules, so the poller may run them in
a worker process (another core) for a whole document, as a first poll parses 2,000 of them, or
inline for the one new item of a changed feed (issue 11, docs/benchmarks.md). This module and
what it imports stay free of storage, HTTP and logging: a worker imports only the parsers,
normalise and classify (~20 MB).
"""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syndicator.sources.classify import ClassifierRules, classify
from syndicator.sources.document import parse_document
from syndicator.sources.normalise import normalise
from syndicator.types import Article, Entry


def digest(entry: Entry) -> bytes:
    """A digest of everything a raw entry holds (its repr spells out every field)."""
    return hashlib.blake2b(repr(entry).encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document parsed, each entry normalised and classified (what `prepare_document` gives).

    `articles` and `errors` carry the index of their entry, so the poller can leave out the
    entries it decides to skip (poll_memory.SourceMemory.skip_known) after the fact.
    """

    error: str | None  # the parser's: the document was broken (entries may still be there)
    count: int  # entries the parser recovered
    digests: tuple[bytes, ...]  # digest() of each entry, in order
    articles: tuple[tuple[int, Article], ...]  # entry index -> article, classified
    errors: tuple[tuple[int, str], ...]  # entry index -> why it yielded no article


def prepare_entries(
    entries: Sequence[Entry],
    *,
    source_id: str,
    agency: str,
    feed_url: str,
    now: datetime,
    rules: ClassifierRules,
    skip: Mapping[int, Any] | frozenset[int] = frozenset(),
) -> tuple[list[tuple[int, Article]], list[tuple[int, str]]]:
    """Normalise and classify every entry not in `skip`. One bad entry never costs the others:
    its failure is a line in the errors, the rest go on."""
    articles: list[tuple[int, Article]] = []
    errors: list[tuple[int, str]] = []
    for i, entry in enumerate(entries):
        if i in skip:
            continue
        try:
            article = normalise(
                entry,
                source_id=source_id,
                agency=agency,
                feed_url=feed_url,
                now=now,
                markers=rules.secrecy_markers,
            )
        except Exception as exc:
            errors.append((i, f"entry {entry.guid or entry.url}: {type(exc).__name__}: {exc}"))
            continue
        if article is not None:
            articles.append((i, classify(article, rules)))
    return articles, errors


# The rules a worker process classifies with: set once when the worker starts (start_worker),
# not sent with every document (the keyword tables are most of a task's bytes).
_RULES: ClassifierRules | None = None


def start_worker(rules: ClassifierRules) -> None:
    """ProcessPoolExecutor initializer: keep the rules for every document of this worker.

    Ctrl-C in a terminal reaches the whole process group: the daemon stops its workers itself
    (Poller.close), so a worker ignores it rather than print a KeyboardInterrupt traceback."""
    global _RULES
    _RULES = rules
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def prepare_document(
    kind: str,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    mapping: Mapping[str, Any] | None,
    *,
    source_id: str,
    agency: str,
    now: datetime,
    rules: ClassifierRules | None = None,
) -> Prepared:
    """Parse a document and prepare every entry (in a worker: with the rules it started with)."""
    rules = rules or _RULES
    if rules is None:
        raise RuntimeError("prepare_document: no classifier rules (start_worker was not run)")
    parsed = parse_document(kind, body, headers, url, mapping)
    articles, errors = prepare_entries(
        parsed.entries, source_id=source_id, agency=agency, feed_url=url, now=now, rules=rules
    )
    return Prepared(
        error=parsed.error,
        count=len(parsed.entries),
        digests=tuple(digest(entry) for entry in parsed.entries),
        articles=tuple(articles),
        errors=tuple(errors),
    )
