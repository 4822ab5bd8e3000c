"""The optional Zalo daily digest: once a day, inside 06:00-20:00, at most five articles."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

import daemon
from syndicator.publishing.digest import digest_due, maybe_send_digest
from tests.publishing.conftest import World, article

# 07:30 in Asia/Ho_Chi_Minh
MORNING = datetime(2025, 11, 14, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "last", "due"),
    [
        (MORNING, None, True),
        (MORNING, date(2025, 11, 14), False),
        (datetime(2025, 11, 13, 23, 30, tzinfo=UTC), None, False),  # 06:30, before 07:00
        (datetime(2025, 11, 14, 13, 30, tzinfo=UTC), None, False),  # 20:30, outside the window
    ],
)
def test_digest_due(now: datetime, last: date | None, due: bool) -> None:
    """The digest is due after its time, inside the delivery window, once per local day."""
    assert digest_due(now, time(7, 0), last) is due


async def test_digest_broadcasts_once_a_day(world: World) -> None:
    """Six published Zalo articles give one broadcast of the latest five, not repeated."""
    settings = world.settings(
        approval={"mode": "auto"}, channels={"zalo": world.raw["channels"]["zalo"]}
    )
    world.add(*(article(i) for i in range(6)))
    publisher = world.publisher(settings)
    await publisher.run_once()
    await publisher.run_once()
    with_digest = world.settings(
        channels={"zalo": {**world.raw["channels"]["zalo"], "digest": True}}
    )
    channel = daemon.build_channels(with_digest, world.storage, world.client)["zalo"]
    now = datetime.now(UTC).replace(hour=0, minute=30)  # 07:30 local, today
    first = await maybe_send_digest(world.storage, "zalo", channel, now)
    again = await maybe_send_digest(world.storage, "zalo", channel, now)
    assert first and again is None
    assert len(world.zalo.broadcasts) == 1
    events = [e for e in world.storage.audit_events() if e.kind == "zalo.digest"]
    assert len(events) == 1 and events[0].data.count('"articles":[') == 1
