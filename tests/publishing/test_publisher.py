"""The publisher end to end against the stand-ins: exactly once through faults and restarts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syndicator.types import PostStatus as S
from tests.publishing.conftest import PAGE_TOKEN, World, article


async def test_manual_approval_publishes_once_on_both(world: World) -> None:
    """Pending posts wait; approved ones go out once to Facebook and Zalo with ids and links."""
    (a,) = world.add(article(1))
    pub = world.publisher()
    await pub.run_once()
    posts = world.storage.list_posts()
    assert {p.channel: p.status for p in posts} == {"facebook": S.PENDING, "zalo": S.PENDING}
    assert world.graph.live_posts() == [] and world.zalo.live_articles() == []
    moved = world.storage.decide(
        [p.id for p in posts], S.APPROVED, actor="test", now=datetime.now(UTC)
    )
    assert len(moved) == 2
    await pub.run_once()
    await pub.run_once()
    done = {p.channel: p for p in world.storage.list_posts()}
    assert done["facebook"].status == S.PUBLISHED and done["zalo"].status == S.PUBLISHED
    fb = world.graph.live_posts()
    assert len(fb) == 1 and fb[0].link == a.canonical_url
    assert done["facebook"].external_id == fb[0].id and done["facebook"].permalink
    assert len(world.zalo.live_articles()) == 1
    assert done["zalo"].external_id == world.zalo.live_articles()[0].id
    # What was sent is the stored payload, byte for byte.
    assert fb[0].message == done["facebook"].payload["message"]
    assert world.storage.verify_audit().ok
    assert [e.kind for e in world.storage.audit_events()].count("post.published") == 2


async def test_auto_rules_and_held_articles(world: World) -> None:
    """A matching auto-approve rule publishes; a secrecy-marked article is held regardless."""
    settings = world.settings(
        approval={
            "mode": "manual",
            "auto_approve": [{"source": "portal", "categories": ["tin_tuc"]}],
        }
    )
    world.add(article(1), article(2, flags=frozenset({"hold"}), secrecy_marker="MẬT"))
    pub = world.publisher(settings)
    await pub.run_once()
    await pub.run_once()
    by_article: dict[int, set[S]] = {}
    for p in world.storage.list_posts():
        by_article.setdefault(p.article_id, set()).add(p.status)
    assert by_article[1] == {S.PUBLISHED} and by_article[2] == {S.HELD}
    assert all(
        p.decided_by == "rule:auto_approve[0]"
        for p in world.storage.list_posts()
        if p.article_id == 1
    )


async def test_code_2_without_a_post_is_sent_again_after_looking(world: World) -> None:
    """Graph code 2 (500) on a create is looked for first; confirmed absent, it is sent again
    until it goes through; code 100 fails the post with its message."""
    settings = world.settings(
        approval={"mode": "auto"}, channels={"facebook": world.raw["channels"]["facebook"]}
    )
    world.graph.add_fault("error", scope="publish", code=2, times=2)
    world.add(article(1))
    pub = world.publisher(settings)
    for _ in range(4):
        await pub.run_once()
    (p,) = world.storage.list_posts()
    assert p.status == S.PUBLISHED and len(world.graph.live_posts()) == 1
    kinds = [e.kind for e in world.storage.audit_events()]
    assert kinds.count("post.ambiguous") == 2 and "post.needs_human" not in kinds
    world.graph.add_fault("error", scope="publish", code=100, message="(#100) Invalid parameter")
    world.add(article(2))
    await world.publisher(settings).run_once()
    failed = world.storage.list_posts(status=[S.FAILED])
    assert len(failed) == 1 and "Invalid parameter" in (failed[0].last_error or "")
    assert len(world.graph.live_posts()) == 1


@pytest.mark.parametrize("post_as", ["link", "photo"])
async def test_code_2_after_create_twice_gives_one_post(world: World, post_as: str) -> None:
    """Graph created the post and answered code 2 / HTTP 500 (arsduo/koala#699), twice in a
    row if we let it: one live post, recorded published, found by reconcile, no human."""
    fb = {**world.raw["channels"]["facebook"], "post_as": post_as}
    settings = world.settings(approval={"mode": "auto"}, channels={"facebook": fb})
    world.graph.add_fault("error", scope="publish", code=2, commit=True, times=2)
    world.add(article(1, image_url="https://portal.example.gov.vn/anh.jpg"))
    pub = world.publisher(settings)
    for _ in range(3):
        await pub.run_once()
    (p,) = world.storage.list_posts()
    [live] = world.graph.live_posts()
    assert p.status == S.PUBLISHED and p.external_id == live.id and p.permalink
    kinds = [e.kind for e in world.storage.audit_events()]
    assert "post.needs_human" not in kinds and kinds.count("post.attempt") == 1
    published = [e for e in world.storage.audit_events() if e.kind == "post.published"]
    assert '"via":"reconciled"' in published[0].data


async def test_accept_then_hang_produces_exactly_one_post(world: World) -> None:
    """A post accepted by Graph whose answer never comes is found by reconciliation, not re-sent."""
    settings = world.settings(
        approval={"mode": "auto"}, channels={"facebook": world.raw["channels"]["facebook"]}
    )
    world.graph.add_fault("accept_then_hang", scope="publish", hold=3)
    world.add(article(1))
    pub = world.publisher(settings)
    for _ in range(3):
        await pub.run_once()
    (p,) = world.storage.list_posts()
    assert p.status == S.PUBLISHED
    assert len(world.graph.live_posts()) == 1 and p.external_id == world.graph.live_posts()[0].id
    kinds = [e.kind for e in world.storage.audit_events()]
    assert "post.ambiguous" in kinds


async def test_crash_after_intent_is_reconciled_then_sent_once(world: World) -> None:
    """A post left in publishing with nothing sent is reconciled, found absent, and sent once."""
    settings = world.settings(
        approval={"mode": "auto"}, channels={"facebook": world.raw["channels"]["facebook"]}
    )
    world.add(article(1))
    first = world.publisher(settings)
    first.plan()
    claimed = world.storage.claim_post("facebook", datetime.now(UTC))  # then the process "dies"
    assert claimed is not None and claimed.status == S.PUBLISHING
    restarted = world.publisher(settings)
    for _ in range(3):
        await restarted.run_once()
    (p,) = world.storage.list_posts()
    assert p.status == S.PUBLISHED and len(world.graph.live_posts()) == 1


async def test_expired_token_pauses_channel_and_set_token_resumes(world: World) -> None:
    """Graph 190 pauses Facebook (posts wait approved, Zalo unaffected); a new token resumes."""
    settings = world.settings(approval={"mode": "auto"})
    world.graph.expire_token(PAGE_TOKEN)
    world.add(article(1))
    pub = world.publisher(settings)
    await pub.run_once()
    await pub.run_once()
    posts = {p.channel: p for p in world.storage.list_posts()}
    assert posts["facebook"].status == S.APPROVED and posts["facebook"].error_class == "credentials"
    assert posts["zalo"].status == S.PUBLISHED
    state = world.storage.channel_status("facebook")
    assert state.status == "needs_credentials" and "set-token" in (state.reason or "")
    # A human mints a new token; storing it and resuming lets the post go out.
    world.graph.pages["1000000001"].add("NEW_TOKEN")
    now = datetime.now(UTC)
    world.storage.save_tokens(
        "facebook",
        access_token="NEW_TOKEN",
        refresh_token=None,
        access_expires_at=None,
        refresh_obtained_at=None,
        now=now,
    )
    world.storage.set_channel_status("facebook", "active", reason=None, actor="test", now=now)
    await world.publisher(settings).run_once()
    assert world.storage.get_post(posts["facebook"].id).status == S.PUBLISHED  # type: ignore[union-attr]
    assert len(world.graph.live_posts()) == 1


async def test_zalo_create_hang_is_found_by_title(world: World) -> None:
    """A Zalo create whose answer is lost is matched by title in getslice, never re-created."""
    settings = world.settings(
        approval={"mode": "auto"}, channels={"zalo": world.raw["channels"]["zalo"]}
    )
    world.zalo.add_fault("accept_then_hang", scope="create", hold=3)
    world.add(article(1))
    pub = world.publisher(settings)
    for _ in range(3):
        await pub.run_once()
    (p,) = world.storage.list_posts()
    assert p.status == S.PUBLISHED and len(world.zalo.live_articles()) == 1


async def test_min_interval_paces_a_channel(world: World) -> None:
    """With min_interval set, a second approved post waits for its slot."""
    fb = {**world.raw["channels"]["facebook"], "min_interval": "1h"}
    settings = world.settings(approval={"mode": "auto"}, channels={"facebook": fb})
    world.add(article(1), article(2))
    pub = world.publisher(settings)
    await pub.run_once()
    await pub.run_once()
    statuses = sorted(p.status.value for p in world.storage.list_posts())
    assert statuses == ["approved", "published"] and len(world.graph.live_posts()) == 1


async def test_post_uses_the_image_of_another_copy(world: World) -> None:
    """The portal's copy has no image, the department's copy of the same article has one:
    the posts carry that image instead of the default cover."""
    settings = world.settings(approval={"mode": "manual"})
    world.add(article(1))
    image = "https://so-nganh.example.gov.vn/anh/hop.jpg"
    copy = article(1, guid="dept-1", source_id="dept", image_url=image)
    world.storage.add_articles("dept", [copy], datetime.now(UTC))
    await world.publisher(settings).run_once()
    posts = {p.channel: p for p in world.storage.list_posts()}
    assert posts["zalo"].payload["cover"]["photo_url"] == image
    assert len(posts) == 2  # the copy itself gets no posts


async def test_a_later_copy_with_an_image_re_renders_waiting_posts(world: World) -> None:
    """The portal's copy was planned with the default cover; the department's copy arrives
    later with an image: the waiting posts re-render with it (approved ones would not)."""
    settings = world.settings(approval={"mode": "manual"})
    world.add(article(1))
    pub = world.publisher(settings)
    await pub.run_once()
    before = {p.channel: p for p in world.storage.list_posts()}
    assert before["zalo"].payload["cover"]["photo_url"].endswith("logo.jpg")
    image = "https://so-nganh.example.gov.vn/anh/hop.jpg"
    copy = article(1, guid="dept-1", source_id="dept", image_url=image)
    world.storage.add_articles("dept", [copy], datetime.now(UTC))
    await pub.run_once()
    after = {p.channel: p for p in world.storage.list_posts()}
    assert after["zalo"].payload["cover"]["photo_url"] == image
    assert after["zalo"].id == before["zalo"].id  # the same post, re-rendered


async def test_pause_between_paces_sends_without_holding_up_the_cycle(world: World) -> None:
    """With `pause_between`, a cycle sends one post per channel and ends at once (no sleep
    inside it); the next send waits for a later cycle, and `next_send_in` says when."""
    import asyncio

    world.add(article(1), article(2))
    publishing = {**world.raw["publishing"], "pause_between": "30s"}
    pub = world.publisher(world.settings(publishing=publishing))
    await pub.run_once()
    posts = [p for p in world.storage.list_posts() if p.channel == "facebook"]
    world.storage.decide([p.id for p in posts], S.APPROVED, actor="test", now=datetime.now(UTC))
    # Ends although the pause is 30 s: it used to sleep it out inside the cycle.
    await asyncio.wait_for(pub.run_once(), 20)
    assert len(world.graph.live_posts()) == 1
    await asyncio.wait_for(pub.run_once(), 20)  # still within the pause: nothing more is sent
    assert len(world.graph.live_posts()) == 1
    assert 0 < pub.next_send_in(60.0) <= 30.0  # the daemon naps until then, not a full minute
    assert pub.next_send_in(2.0) == 2.0  # never longer than the publishing interval
    statuses = sorted(p.status for p in world.storage.list_posts() if p.channel == "facebook")
    assert statuses == [S.APPROVED, S.PUBLISHED]  # the second waits its turn, not "publishing"
