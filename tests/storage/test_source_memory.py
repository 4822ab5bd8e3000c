"""The poller's memory in its own table: migration 0011 and the record/read round trip."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import inspect, text

from syndicator.storage import PollRecord, open_storage
from syndicator.storage.engine import make_engine, upgrade

MEMORY = '{"context":["https://x/f.xml","Sở A"],"stamp":[2,null],"items":[],"seen":[]}'


def test_upgrade_moves_the_memory_and_drops_the_column(db_url: str, now: datetime) -> None:
    """0011 moves each stored memory into source_memory and drops sources.poll_memory."""
    engine = make_engine(db_url)
    upgrade(engine, "0010")
    with engine.begin() as conn:
        for sid, memory in (("a", MEMORY), ("b", None)):
            conn.execute(
                text(
                    "INSERT INTO sources (id, url, error_count, status, created_at, poll_memory)"
                    " VALUES (:id, :url, 0, 'ok', :at, :memory)"
                ),
                {"id": sid, "url": f"https://x/{sid}", "at": now.replace(tzinfo=None),
                 "memory": memory},
            )  # fmt: skip
    upgrade(engine, "head")
    columns = {c["name"] for c in inspect(engine).get_columns("sources")}
    assert "poll_memory" not in columns
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT source_id, memory, members FROM source_memory")).all()
    assert [tuple(r) for r in rows] == [("a", MEMORY, None)]
    engine.dispose()

    storage = open_storage(db_url)
    assert storage.poll_memories(["a", "b"]) == {"a": MEMORY}
    assert storage.poll_members(["a", "b"]) == {}
    storage.close()


def test_downgrade_puts_the_memory_back(db_url: str, now: datetime) -> None:
    """0011's downgrade restores sources.poll_memory from the table (nothing lost)."""
    storage = open_storage(db_url)
    storage.sync_sources([("a", "https://x/a")], now)
    record = PollRecord("a", now, now + timedelta(minutes=5), ok=True, memory=MEMORY)
    storage.record_polls([record], unhealthy_after=3, now=now)
    storage.close()
    engine = make_engine(db_url)
    from alembic import command

    from syndicator.storage.engine import alembic_config

    command.downgrade(alembic_config(engine), "0010")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT poll_memory FROM sources")).scalar() == MEMORY
        assert not inspect(conn).has_table("source_memory")
    engine.dispose()


def test_record_polls_upserts_and_forgets(db_url: str, now: datetime) -> None:
    """A memory is written, replaced, left alone by a 304, and forgotten by ""."""
    storage = open_storage(db_url)
    storage.sync_sources([("a", "https://x/a"), ("b", "https://x/b")], now)
    later = now + timedelta(minutes=5)

    def record(**kw: object) -> None:
        storage.record_polls(
            [PollRecord("a", now, later, ok=True, **kw)], unhealthy_after=3, now=now
        )  # type: ignore[arg-type]

    record(memory=MEMORY, members='[["00",  "g1"]]')
    assert storage.poll_memories(["a"]) == {"a": MEMORY}
    assert storage.poll_members(["a"]) == {"a": '[["00",  "g1"]]'}
    record(memory=MEMORY + " ", members="")
    assert storage.poll_memories(["a"]) == {"a": MEMORY + " "}
    assert storage.poll_members(["a"]) == {}
    record(unchanged=True)  # a 304: the memory stays
    assert storage.poll_memories(["a"]) == {"a": MEMORY + " "}
    record(memory="")
    assert storage.poll_memories(["a", "b"]) == {}
    # A record for a source with no state row stores nothing (and raises nothing).
    storage.record_polls(
        [PollRecord("zz", now, later, ok=True, memory=MEMORY)], unhealthy_after=3, now=now
    )
    assert storage.poll_memories(["zz"]) == {}
    storage.close()
