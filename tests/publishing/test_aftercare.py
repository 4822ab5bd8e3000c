"""Taking published posts down and correcting them, through the CLI, against the stand-ins."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from syndicator.types import PostStatus as S
from tests.publishing.conftest import World, article
from tests.publishing.test_cli_tokens import _acli


async def _published(world: World, tmp_path: Path) -> Path:
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps({**world.raw, "approval": {"mode": "auto"}}), encoding="utf-8")
    world.add(article(1))
    for _ in range(2):
        done = await _acli(cfg, "publish", "--once")
        assert done.returncode == 0, done.stderr
    assert {p.status for p in world.storage.list_posts()} == {S.PUBLISHED}
    return cfg


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_takedown_of_an_article_removes_it_from_page_and_oa(
    world: World, tmp_path: Path
) -> None:
    """`takedown a1 --reason` deletes the Graph post and removes the Zalo article, with the
    operator and the reason in the audit trail; a second takedown changes nothing."""
    cfg = await _published(world, tmp_path)
    done = await _acli(cfg, "takedown", "a1", "--reason", "Sở đề nghị gỡ: sai số liệu")
    assert done.returncode == 0, done.stderr
    assert world.graph.live_posts() == [] and world.zalo.live_articles() == []
    assert {p.status for p in world.storage.list_posts()} == {S.REMOVED}
    asked = [e for e in world.storage.audit_events() if e.kind == "post.takedown"]
    assert len(asked) == 2 and all("sai số liệu" in e.data for e in asked)
    assert all(e.actor.startswith("cli:") for e in asked)
    assert len([e for e in world.storage.audit_events() if e.kind == "post.removed"]) == 2
    again = await _acli(cfg, "takedown", "a1", "--reason", "lần hai")
    assert again.returncode == 1 and "not live" in again.stderr
    assert world.storage.verify_audit().ok


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_takedown_with_a_lost_answer_is_finished_by_the_daemon(
    world: World, tmp_path: Path
) -> None:
    """The delete's answer is lost: the post stays `removing`, and the publisher's next turn
    asks again; Graph says the post is gone, which confirms the take-down."""
    cfg = await _published(world, tmp_path)
    fb = next(p for p in world.storage.list_posts() if p.channel == "facebook")
    world.graph.add_fault("accept_then_hang", scope="delete", hold=3)
    done = await _acli(cfg, "takedown", str(fb.id), "--reason", "nhầm bài")
    assert done.returncode == 1 and "tries again" in done.stderr
    assert world.storage.get_post(fb.id).status == S.REMOVING  # type: ignore[union-attr]
    assert world.graph.live_posts() == []  # it did go through
    from datetime import UTC, datetime, timedelta

    from syndicator.publishing.aftercare import finish_removals

    pub = world.publisher(world.settings(approval={"mode": "auto"}))
    later = datetime.now(UTC) + timedelta(minutes=5)
    await finish_removals(world.storage, pub.channels, lambda: later)
    assert world.storage.get_post(fb.id).status == S.REMOVED  # type: ignore[union-attr]
    removed = [e for e in world.storage.audit_events() if e.kind == "post.removed"]
    assert '"already_gone":true' in removed[0].data


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_correct_edits_the_live_posts(world: World, tmp_path: Path) -> None:
    """`correct a1 --text ... --yes` edits the Facebook message (the link kept) and updates the
    Zalo article; the stored payload follows only what the channel confirmed."""
    cfg = await _published(world, tmp_path)
    text = "Đính chính: lịch tiếp công dân chuyển sang thứ Năm."
    done = await _acli(cfg, "correct", "a1", "--text", text, "--yes")
    assert done.returncode == 0, done.stderr
    [fb] = world.graph.live_posts()
    assert fb.message.startswith(text) and "portal.example.gov.vn/tin/1" in fb.message
    [za] = world.zalo.live_articles()
    assert za.description == text
    posts = {p.channel: p for p in world.storage.list_posts()}
    assert posts["zalo"].payload["description"] == text and posts["zalo"].status == S.PUBLISHED
    kinds = [e.kind for e in world.storage.audit_events()]
    assert kinds.count("post.corrected") == 2
    without = await _acli(cfg, "correct", "1", "--text", "x")
    assert without.returncode == 1 and "--yes" in without.stderr
