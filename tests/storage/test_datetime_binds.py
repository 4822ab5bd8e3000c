"""UTCDateTime binds on SQLite straight to text (issue 11): the same text SQLAlchemy's DATETIME
stores, so comparisons with rows written before stay right; the same refusals."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite

from syndicator.storage import Storage
from syndicator.storage.models import UTCDateTime


def test_the_text_is_sqlalchemys_datetime_text_in_utc() -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime().bind_processor(dialect)
    reference = DateTime().dialect_impl(dialect).bind_processor(dialect)
    rng = random.Random(11)
    for _ in range(5000):
        offset = timezone(timedelta(minutes=rng.choice([0, 420, -300, 345, 765])))
        value = datetime.fromtimestamp(rng.uniform(-2e9, 8e9), offset)
        value = value.replace(microsecond=rng.choice([0, 1, 999999, rng.randrange(10**6)]))
        assert ours(value) == reference(value.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None
    assert ours(datetime(2026, 12, 3, 15, 4, 5, tzinfo=timezone(timedelta(hours=7)))) == (
        "2026-12-03 08:04:05.000000"
    )


def test_naive_and_non_datetime_values_are_refused() -> None:
    process = UTCDateTime().bind_processor(sqlite.dialect())
    with pytest.raises(ValueError, match="naive datetime"):
        process(datetime(2026, 12, 3, 8, 0))
    with pytest.raises(TypeError):
        process(date(2026, 12, 3))


def test_other_dialects_keep_the_aware_value() -> None:
    dialect = postgresql.psycopg.dialect()
    process = UTCDateTime().bind_processor(dialect)
    value = datetime(2026, 12, 3, 15, 0, tzinfo=timezone(timedelta(hours=7)))
    bound = process(value) if process else UTCDateTime().process_bind_param(value, dialect)
    assert bound == value and bound.tzinfo is not None


def test_due_reads_compare_with_rows_written_through_either_path(storage: Storage) -> None:
    """A source whose next check was written as text by the new binder is due exactly at
    that moment and not a microsecond before (the text orders as the time does)."""
    at = datetime(2026, 12, 3, 8, 0, 0, 250000, tzinfo=UTC)
    storage.sync_sources([("a", "https://a.example/feed")], at)
    storage.claim_due_sources(at, timedelta(seconds=90), ["a"])
    due = at + timedelta(seconds=90)
    assert storage.due_sources(due - timedelta(microseconds=1)) == []
    assert storage.due_sources(due) == ["a"]
