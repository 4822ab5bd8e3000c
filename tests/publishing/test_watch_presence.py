"""Which watched articles' URLs are fetched, by their place in their feed (pure decisions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndicator.poll_memory import build_members, dump_members, load_members, member_guids
from syndicator.publishing.watch import Presence, older_items, presence, url_check_due

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
EVERY = timedelta(hours=6)
H = {g: bytes([i]) * 16 for i, g in enumerate("abcdefg")}  # an item hash per guid


@pytest.mark.parametrize(
    ("members", "older", "expected"),
    [
        (None, [], Presence.UNKNOWN),  # the feed's members are not known
        (["c", "b", "a"], ["a"], Presence.IN_FEED),
        (["d", "c", "a"], ["a"], Presence.VANISHED),  # gone while the older "a" stayed
        (["e", "d", "c"], ["a"], Presence.PUSHED_OUT),  # gone with everything older
        (["d", "c"], [], Presence.PUSHED_OUT),  # it was the last item: fell off the end
        ([], ["a"], Presence.PUSHED_OUT),  # an empty feed holds nothing older
    ],
)
def test_presence(members: list[str] | None, older: list[str], expected: Presence) -> None:
    """In the feed, vanished (older items stayed), pushed out (they left too), or unknown."""
    assert presence("b", members, older) is expected


def test_older_items_are_the_ones_after_it() -> None:
    """The items listed after an article (feeds list newest first), a few at most."""
    assert older_items("b", ["c", "b", "a"]) == ["a"]
    assert older_items("a", ["c", "b", "a"]) == []
    assert older_items("z", ["c", "b", "a"]) == []
    assert older_items("a", list("abcdefg"), keep=3) == ["b", "c", "d"]


LEFT = NOW - timedelta(hours=1)


@pytest.mark.parametrize(
    ("where", "last", "left", "now", "due"),
    [
        # In the feed: never fetched, however long since the last check.
        (Presence.IN_FEED, None, None, NOW, False),
        (Presence.IN_FEED, NOW - 10 * EVERY, None, NOW, False),
        # Vanished: at once if not checked since it left, then every `every`.
        (Presence.VANISHED, None, LEFT, NOW, True),
        (Presence.VANISHED, LEFT - EVERY / 2, LEFT, NOW, True),
        (Presence.VANISHED, LEFT, LEFT, NOW, False),
        (Presence.VANISHED, LEFT, LEFT, LEFT + EVERY, True),
        # Pushed out: `every` after it left or after its last check, whichever is later.
        (Presence.PUSHED_OUT, None, LEFT, NOW, False),
        (Presence.PUSHED_OUT, None, LEFT, LEFT + EVERY, True),
        (Presence.PUSHED_OUT, LEFT + EVERY, LEFT, LEFT + EVERY + EVERY / 2, False),
        (Presence.PUSHED_OUT, LEFT + EVERY, LEFT, LEFT + 2 * EVERY, True),
        (Presence.PUSHED_OUT, LEFT - EVERY, LEFT, NOW, False),  # checked before it left
        # Unknown: as before membership was known, every `every`, at once the first time.
        (Presence.UNKNOWN, None, None, NOW, True),
        (Presence.UNKNOWN, NOW - EVERY / 2, None, NOW, False),
        (Presence.UNKNOWN, NOW - EVERY, None, NOW, True),
    ],
)
def test_url_check_due(
    where: Presence, last: datetime | None, left: datetime | None, now: datetime, due: bool
) -> None:
    """When a watched article's URL is fetched, by its place in its feed."""
    assert url_check_due(last, now, EVERY, where, left) is due


def test_members_of_a_whole_document() -> None:
    """Parsed whole: the entries are the items (paired with their hashes when counts agree)."""
    assert build_members(["b", None], [H["b"], H["a"]]) == [(H["b"], "b"), (H["a"], None)]
    assert build_members(["b", "a"], [H["b"]]) == [(None, "b"), (None, "a")]
    assert build_members(["b", "a"], None) == [(None, "b"), (None, "a")]  # a JSON feed


def test_members_of_a_trimmed_document() -> None:
    """Trimmed: the parsed entries are the new items; the known ones keep their guid."""
    previous = [(H["b"], "b"), (H["a"], "a")]
    known = {H["b"], H["a"]}
    hashes = [H["c"], H["b"], H["a"]]
    assert build_members(["c"], hashes, trimmed_from=known, previous=previous) == [
        (H["c"], "c"), (H["b"], "b"), (H["a"], "a"),
    ]  # fmt: skip
    # Anything that cannot be paired for sure is not known (None), never guessed.
    assert build_members([], hashes, trimmed_from=known, previous=previous) is None
    assert build_members(["c", "x"], hashes, trimmed_from=known, previous=previous) is None
    assert build_members(["c"], hashes, trimmed_from=known, previous=None) is None
    assert build_members(["c"], hashes, trimmed_from=known, previous=previous[:1]) is None


def test_members_round_trip_and_bad_input() -> None:
    """Stored as JSON and read back; anything unreadable is "not known" (None)."""
    members = [(H["c"], "c"), (None, None), (H["a"], "Tin một")]
    text = dump_members(members)
    assert load_members(text) == members
    assert member_guids(text) == ["c", "Tin một"]
    assert dump_members(None) == ""
    for bad in (None, "", "not json", "[1]", '[["zz", "a"]]', "{}"):
        assert load_members(bad) is None and member_guids(bad) is None
