"""Storage verbs on SQLite and PostgreSQL: de-duplication, change detection, source state."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from syndicator.storage import PollRecord, Storage
from syndicator.types import Article


def make(i: int, **kw: object) -> Article:
    base = Article(
        source_id="portal",
        guid=f"g{i}",
        url=f"https://portal.gov.vn/tin/{i}",
        canonical_url=f"https://portal.gov.vn/tin/{i}",
        title=f"Tin số {i}",
        summary="Tóm tắt",
        content_html="<p>Nội dung</p>",
        content_text="Nội dung",
        image_url=None,
        published_at=None,
        agency="UBND tỉnh",
        categories=("tin_tuc",),
        content_hash=f"hash{i}",
        fingerprint=f"fp{i}",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def test_new_then_unchanged(storage: Storage, now) -> None:
    """A second add of the same articles stores nothing new."""
    first = storage.add_articles("portal", [make(1), make(2)], now)
    assert [a.guid for a in first.new] == ["g1", "g2"]
    assert all(a.id for a in first.new)
    second = storage.add_articles("portal", [make(1), make(2)], now)
    assert (second.new, second.duplicates, second.changed, second.unchanged) == ([], [], [], 2)


def test_duplicate_by_canonical_url_and_fingerprint_across_sources(storage: Storage, now) -> None:
    """Another guid or source with the same canonical URL or fingerprint is a duplicate."""
    original = storage.add_articles("so-tc", [make(1, source_id="so-tc")], now).new[0]
    by_url = make(9, guid="other", fingerprint="different")
    by_url = replace(by_url, canonical_url=original.canonical_url)
    by_fp = make(10, guid="third", fingerprint=original.fingerprint)
    result = storage.add_articles("portal", [by_url, by_fp], now)
    assert result.new == []
    assert [a.duplicate_of for a in result.duplicates] == [original.id, original.id]


def test_in_batch_duplicates_point_at_the_first(storage: Storage, now) -> None:
    """Two entries of one feed with the same canonical URL: the second is a duplicate."""
    a = make(1)
    b = make(2, canonical_url=a.canonical_url)
    result = storage.add_articles("portal", [a, b], now)
    assert [x.guid for x in result.new] == ["g1"]
    assert result.duplicates[0].duplicate_of == result.new[0].id


def test_changed_content_is_recorded_with_both_hashes(storage: Storage, now) -> None:
    """A known guid with new content is updated and audited, not added."""
    storage.add_articles("portal", [make(1)], now)
    result = storage.add_articles("portal", [make(1, title="Tin đã sửa", content_hash="new")], now)
    assert [a.title for a in result.changed] == ["Tin đã sửa"]
    events = [e for e in storage.audit_events() if e.kind == "article.changed"]
    assert len(events) == 1
    assert '"old_hash":"hash1"' in events[0].data and '"new_hash":"new"' in events[0].data
    assert storage.count_articles() == 1


def test_round_trip_keeps_aware_utc_and_vietnamese(storage: Storage, now) -> None:
    """Stored articles come back equal: NFC text, aware datetimes, tuples and flags."""
    article = make(
        1,
        published_at=now - timedelta(hours=2),
        flags=frozenset({"hold"}),
        secrecy_marker="MẬT",
        title="Quyết định về việc phê duyệt",
    )
    stored = storage.add_articles("portal", [article], now).new[0]
    loaded = storage.get_article(stored.id)
    assert loaded is not None
    assert loaded.published_at == now - timedelta(hours=2)
    assert loaded.published_at.tzinfo is not None
    assert loaded.flags == frozenset({"hold"}) and loaded.held
    assert loaded.title == "Quyết định về việc phê duyệt"
    assert loaded.first_seen_at == now


def test_due_claim_and_backoff_state(storage: Storage, now) -> None:
    """Sources come due, are claimed once, and count errors up to the unhealthy event."""
    storage.sync_sources([("a", "https://a"), ("b", "https://b")], now)
    assert sorted(storage.due_sources(now)) == ["a", "b"]
    assert storage.claim_source("a", now, timedelta(minutes=5))
    assert not storage.claim_source("a", now, timedelta(minutes=5))
    later = now + timedelta(minutes=1)
    for i in range(3):
        became = storage.record_polls(
            [PollRecord("b", later, later + timedelta(minutes=2**i), ok=False, error="HTTP 503")],
            unhealthy_after=3,
            now=later,
        )
    assert became == ["b"]
    state = storage.source_state("b")
    assert state is not None and state.status == "unhealthy" and state.error_count == 3
    storage.record_polls(
        [PollRecord("b", later, later, ok=True, etag='"x"', validators_changed=True)],
        unhealthy_after=3,
        now=later,
    )
    state = storage.source_state("b")
    assert state is not None and state.status == "ok" and state.etag == '"x"'
    kinds = [e.kind for e in storage.audit_events()]
    assert kinds.count("source.unhealthy") == 1 and kinds.count("source.recovered") == 1


def test_changed_url_resets_validators(storage: Storage, now) -> None:
    """A source whose URL changes in the config forgets its ETag and is due at once."""
    storage.sync_sources([("a", "https://a")], now)
    storage.record_polls(
        [
            PollRecord(
                "a", now, now + timedelta(hours=1), ok=True, etag='"e"', validators_changed=True
            )
        ],
        unhealthy_after=5,
        now=now,
    )
    storage.sync_sources([("a", "https://a/new")], now)
    state = storage.source_state("a")
    assert state is not None and state.etag is None and state.url == "https://a/new"
    assert storage.due_sources(now) == ["a"]


def test_the_stamp_an_ingest_returns_is_the_one_a_read_gives(storage: Storage, now) -> None:
    """add_articles(expect=...) computes the source's stamp after its write instead of reading
    it (issue 11): it must be exactly what source_stamp() reads then, or the next poll of the
    source would parse its whole document for nothing. New rows, a changed row, nothing
    written, a clock behind the stored rows, and a copy lending its image (read then)."""

    def ingest(articles: list[Article], at) -> object:
        before = storage.source_stamp("portal")
        result = storage.add_articles("portal", articles, at, expect=before)
        assert not result.stale
        assert result.stamp == storage.source_stamp("portal")
        return result.stamp

    assert storage.source_stamp("portal") == (0, None)
    ingest([make(1), make(2)], now)
    ingest([make(1), make(2), make(3)], now + timedelta(seconds=1))
    ingest([make(2, content_hash="hash2b")], now + timedelta(seconds=2, microseconds=7))
    ingest([make(1), make(2, content_hash="hash2b")], now + timedelta(seconds=3))  # nothing
    ingest([make(4)], now - timedelta(hours=1))  # the clock went back: latest stays
    storage.add_articles("other", [make(5, source_id="other")], now)
    copy = make(6, fingerprint="fp5", image_url="https://portal.gov.vn/anh.jpg")
    ingest([copy], now + timedelta(seconds=4))
    stale = storage.add_articles("portal", [make(7)], now, expect=(0, None))
    assert stale.stale and storage.source_stamp("portal")[0] == 5


def test_writes_sharing_one_transaction_append_their_audit_events_once(
    storage: Storage, now
) -> None:
    """Inside storage.writing() the ingests' audit events are chained at its end, in their
    order and each with its own time, with one read of the chain's end; a rollback leaves
    neither the rows nor the events."""
    from sqlalchemy import event

    reads: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().startswith("SELECT audit_events.id, audit_events.hash"):
            reads.append(statement)

    event.listen(storage.engine, "before_cursor_execute", count)
    try:
        later = now + timedelta(seconds=3)
        with storage.writing():
            storage.add_articles("portal", [make(1), make(2)], now)
            storage.add_articles("other", [make(3, source_id="other")], later)
    finally:
        event.remove(storage.engine, "before_cursor_execute", count)
    assert len(reads) == 1
    events = [(e.kind, e.subject, e.at) for e in storage.audit_events()]
    at, at_later = (t.replace(microsecond=0) for t in (now, later))
    assert events == [
        ("article.new", "article:1", at),
        ("article.new", "article:2", at),
        ("article.new", "article:3", at_later),
    ]
    try:
        with storage.writing():
            storage.add_articles("portal", [make(4)], later)
            raise RuntimeError("a bug after the write")
    except RuntimeError:
        pass
    assert len(list(storage.audit_events())) == 3 and len(storage.list_articles()) == 3
    assert storage.verify_audit().ok
