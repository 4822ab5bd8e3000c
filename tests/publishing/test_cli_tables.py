"""Tables people read: Vietnam time with the zone named (or --utc), titles, aN/pN ids,
cells cut at word boundaries. Real database (SQLite and PostgreSQL), stand-in channels."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.cli.common import shorten
from syndicator.publishing.pacing import LOCAL
from tests.publishing.conftest import World, article
from tests.publishing.test_queue_cli import cli, write_config

# 01:30 UTC is 08:30 in Hà Nội: the two renderings cannot be mistaken for each other.
PUBLISHED = datetime(2025, 11, 14, 1, 30, tzinfo=UTC)


def lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


async def test_articles_and_posts_show_vietnam_time_with_the_zone(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`articles` and `posts` name the zone in the header; --utc switches; jsonl stays UTC."""
    cfg = write_config(world, tmp_path)
    # An old article for the times; a fresh one that the planner turns into posts.
    world.add(replace(article(1), published_at=PUBLISHED), article(2))
    world.publisher().plan()

    code, out, err = await cli(capsys, "--config", str(cfg), "articles")
    assert code == 0, err
    assert "published (Asia/Ho_Chi_Minh)" in lines(out)[0]
    assert "2025-11-14 08:30" in out and "2025-11-14 01:30" not in out
    code, out, _ = await cli(capsys, "--config", str(cfg), "articles", "--utc")
    assert "published (UTC)" in lines(out)[0] and "2025-11-14 01:30" in out
    code, out, _ = await cli(capsys, "--config", str(cfg), "articles", "--format", "jsonl")
    assert json.loads(out.splitlines()[0])["published_at"] == "2025-11-14T01:30:00+00:00"

    code, out, err = await cli(capsys, "--config", str(cfg), "posts")
    assert code == 0, err
    head = lines(out)[0].split()
    assert "title" in head and "(Asia/Ho_Chi_Minh)" in head
    # The title is cut at a word, not inside one ("Ủy ban nhân dân tỉnh thông báo lịch …").
    assert "Ủy ban nhân dân tỉnh thông báo lịch…" in out
    updated = world.storage.list_posts()[0].updated_at.astimezone(UTC)
    assert updated.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M") in out
    code, out, _ = await cli(capsys, "--config", str(cfg), "posts", "--utc")
    assert "(UTC)" in lines(out)[0] and updated.strftime("%Y-%m-%d %H:%M") in out


async def test_sources_table_names_the_zone(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sources` shows the last check in Vietnam time with the zone in the header."""
    cfg = write_config(world, tmp_path)
    code, out, err = await cli(capsys, "--config", str(cfg), "sources")
    assert code == 0, err
    assert "last check (Asia/Ho_Chi_Minh)" in lines(out)[0]
    code, out, _ = await cli(capsys, "--config", str(cfg), "sources", "--utc")
    assert "last check (UTC)" in lines(out)[0]


async def test_render_takes_article_and_post_ids(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`render` takes 4, a4, article:4 and a post's p12 / post:12 (its channel only)."""
    cfg = write_config(world, tmp_path)
    world.add(article(1))
    world.publisher().plan()
    posts = {p.channel: p for p in world.storage.list_posts(article_id=1)}
    aid = posts["facebook"].article_id
    for given in (str(aid), f"a{aid}", f"article:{aid}", f"A{aid}"):
        code, out, err = await cli(capsys, "--config", str(cfg), "render", given)
        assert code == 0, (given, err)
        assert "== facebook" in out and "== zalo" in out
    fb = posts["facebook"].id
    for given in (f"p{fb}", f"post:{fb}"):
        code, out, err = await cli(capsys, "--config", str(cfg), "render", given)
        assert code == 0, (given, err)
        assert f"== facebook — stored post {fb}" in out and "== zalo" not in out


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("x4", "is not an article id"),
        ("a", "is not an article id"),
        ("p999999", "no post with id 999999"),
        ("999999", "no article with id 999999"),
    ],
)
async def test_render_refuses_bad_ids_clearly(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str, message: str
) -> None:
    """A malformed or unknown id is one clear line on stderr and exit 1, nothing printed."""
    cfg = write_config(world, tmp_path)
    code, out, err = await cli(capsys, "--config", str(cfg), "render", given)
    assert code == 1 and out == "" and message in err


async def test_render_refuses_a_post_of_another_channel(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`render p12 --channel zalo` for a Facebook post says so instead of guessing."""
    cfg = write_config(world, tmp_path)
    world.add(article(1))
    world.publisher().plan()
    fb = next(p for p in world.storage.list_posts() if p.channel == "facebook")
    code, _, err = await cli(
        capsys, "--config", str(cfg), "render", f"p{fb.id}", "--channel", "zalo"
    )
    assert code == 1 and "is for channel 'facebook'" in err


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("ngắn", 10, "ngắn"),
        ("timeout: ConnectTimeout while fetching", 30, "timeout: ConnectTimeout while…"),
        ("Thông báo về việc tổ chức lễ kỷ niệm", 20, "Thông báo về việc…"),
        ("Thông báo về việc", 14, "Thông báo về…"),
        ("dòng một\ndòng hai", 40, "dòng một dòng hai"),
        ("abcdefghijklmnop", 8, "abcdefg…"),
        ("Vie\u0323\u0302t Nam", 4, "Vi…"),  # NFD: the marks stay with their letter
        ("a b", 3, "a b"),
    ],
)
def test_shorten_cuts_at_word_boundaries(text: str, width: int, expected: str) -> None:
    """Cells are folded to one line and cut at a space, never inside a syllable."""
    result = shorten(text, width)
    assert result == expected and len(result) <= width
