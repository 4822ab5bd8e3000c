"""Exactly once on Zalo as it really behaves: a known processing token is never followed by a
second create, and tokens rotated by another process are picked up, not fought over."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w

import daemon
from syndicator.types import PostStatus as S
from tests.publishing.conftest import World, article
from tests.publishing.test_cli_tokens import _acli


def _zalo_only(world: World, **zalo: object) -> object:
    channel = {**world.raw["channels"]["zalo"], **zalo}
    return world.settings(approval={"mode": "auto"}, channels={"zalo": channel})


async def _runs(world: World, settings: object, times: int = 3) -> None:
    pub = world.publisher(settings)  # type: ignore[arg-type]
    for _ in range(times):
        await pub.run_once()


async def test_killed_between_create_and_verify_gives_one_article(world: World) -> None:
    """The process dies after create handed back its token: the next run verifies that token
    and records the one article; it never creates a second."""
    settings = _zalo_only(world)
    world.add(article(1))
    first = world.publisher(settings)  # type: ignore[arg-type]
    first.plan()
    claimed = world.storage.claim_post("zalo", datetime.now(UTC))
    assert claimed is not None
    channel = first.channels["zalo"]
    token = (await channel._create(claimed.payload, None))["zalo_token"]  # type: ignore[attr-defined]
    world.storage.save_handle(claimed.id, {"zalo_token": token}, datetime.now(UTC))
    # ... and here the process was killed: no verify, no outcome.
    await _runs(world, settings)
    (p,) = world.storage.list_posts()
    assert p.status == S.PUBLISHED and len(world.zalo.live_articles()) == 1
    assert p.external_id == world.zalo.live_articles()[0].id
    creates = [r for r in world.zalo.requests if r["path"].endswith("/article/create")]
    assert len(creates) == 1


async def test_credentials_error_during_verify_never_creates_again(world: World) -> None:
    """The token dies between create and verify and cannot be refreshed: the channel pauses,
    the post keeps its processing token, and after a new token it is verified, not re-created."""
    settings = _zalo_only(world)
    world.add(article(1))
    await _runs(world, settings, times=1)  # a first article: the channel holds a token pair
    world.add(article(2))
    world.zalo.add_fault("error", scope="verify", code=-216)  # kills the access token
    world.zalo.add_fault("error", scope="oauth")  # and the refresh is refused
    await _runs(world, settings, times=2)
    p = world.storage.list_posts()[-1]
    assert p.status == S.PUBLISHING and p.handle and "zalo_token" in p.handle
    assert world.storage.channel_status("zalo").status == "needs_credentials"
    assert len(world.zalo.live_articles()) == 2  # created once, not yet verified
    now = datetime.now(UTC)
    world.storage.set_channel_status("zalo", "active", reason=None, actor="test", now=now)
    await _runs(world, settings)
    assert {p.status for p in world.storage.list_posts()} == {S.PUBLISHED}
    assert len(world.zalo.live_articles()) == 2
    creates = [r for r in world.zalo.requests if r["path"].endswith("/article/create")]
    assert len(creates) == 2


async def test_refused_verify_asks_a_human_and_retry_verifies(world: World) -> None:
    """A verify refusal is for a human; their /retry resolves through the same token."""
    settings = _zalo_only(world)
    world.add(article(1))
    world.zalo.add_fault("error", scope="verify", code=-210, message="Parameter exceeds limit")
    await _runs(world, settings, times=2)
    (p,) = world.storage.list_posts()
    assert p.status == S.NEEDS_HUMAN and p.handle and p.error_class == "unverified"
    world.storage.decide(
        [p.id], S.APPROVED, actor="admin", now=datetime.now(UTC), allowed_from=(S.NEEDS_HUMAN,)
    )
    await _runs(world, settings)
    (p,) = world.storage.list_posts()
    assert p.status == S.PUBLISHED and len(world.zalo.live_articles()) == 1
    creates = [r for r in world.zalo.requests if r["path"].endswith("/article/create")]
    assert len(creates) == 1


async def test_unfetchable_cover_falls_back_to_the_default(world: World) -> None:
    """Zalo could not fetch the image (-200 at verify, nothing created): the article goes out
    once, with the configured default cover."""
    image = "https://portal.example.gov.vn/anh-rat-lon.jpg"
    world.zalo.make_unfetchable(image)
    settings = _zalo_only(world)
    world.add(article(1, image_url=image))
    await _runs(world, settings)
    (p,) = world.storage.list_posts()
    [live] = world.zalo.live_articles()
    assert p.status == S.PUBLISHED and p.external_id == live.id
    assert live.cover and live.cover["photo_url"] == "https://portal.example.gov.vn/logo.jpg"


@pytest.mark.parametrize("code", [-100, -32])
async def test_unknown_error_on_create_is_looked_for_first(world: World, code: int) -> None:
    """-100 and -32 on a create prove nothing: reconcile, then (absent) send once more."""
    settings = _zalo_only(world)
    world.add(article(1))
    world.zalo.add_fault("error", scope="create", code=code)
    await _runs(world, settings, times=4)
    (p,) = world.storage.list_posts()
    assert p.status == S.PUBLISHED and len(world.zalo.live_articles()) == 1
    kinds = [e.kind for e in world.storage.audit_events()]
    assert "post.ambiguous" in kinds and "post.needs_human" not in kinds


async def test_lost_create_found_when_create_date_is_in_seconds(db_url: str) -> None:
    """Reconcile by title works whether Zalo counts create_date in seconds or milliseconds."""
    import httpx

    from syndicator.sandbox import GraphServer, ZaloServer
    from syndicator.storage import open_storage
    from tests.publishing.conftest import World as _World  # noqa: F401  (documentation only)
    from tests.publishing.conftest import fast_publishing

    graph, zalo = GraphServer(), ZaloServer(create_date_unit="s")
    await graph.start()
    await zalo.start()
    raw = {
        "database": {"url": db_url},
        "sources": [{"id": "portal", "url": "https://portal.example.gov.vn/rss", "agency": "X"}],
        "approval": {"mode": "auto"},
        **fast_publishing(graph, zalo),
    }
    storage = open_storage(db_url)
    try:
        async with httpx.AsyncClient() as client:
            world = World(graph, zalo, storage, client, raw)
            zalo.add_fault("accept_then_hang", scope="create", hold=3)
            world.add(article(1))
            await _runs(world, _zalo_only(world))
            (p,) = storage.list_posts()
            assert p.status == S.PUBLISHED and len(zalo.live_articles()) == 1
    finally:
        storage.close()
        await graph.stop()
        await zalo.stop()


async def test_a_check_beside_the_daemon_never_spends_its_tokens(
    world: World, tmp_path: Path
) -> None:
    """`channels check` (another process) while the daemon's channel holds a pair: the check
    refreshes nothing, and the daemon keeps publishing to Zalo."""
    settings = _zalo_only(world)
    world.add(article(1))
    await _runs(world, settings, times=2)  # the daemon's channel obtains and stores a pair
    refreshes = world.zalo.refresh_count
    cfg = tmp_path / "s.toml"
    cfg.write_text(tomli_w.dumps({**world.raw, "approval": {"mode": "auto"}}), encoding="utf-8")
    world.zalo.expire_access_token()  # even with the access token dead, the check must not refresh
    check = await _acli(cfg, "channels", "check")
    assert world.zalo.refresh_count == refreshes, check.stdout + check.stderr
    assert "zalo" in check.stdout
    world.add(article(2))
    await _runs(world, settings, times=2)
    assert {p.status for p in world.storage.list_posts()} == {S.PUBLISHED}
    assert len(world.zalo.live_articles()) == 2
    assert world.storage.channel_status("zalo").status == "active"


async def test_pair_rotated_by_another_process_is_used_not_fought(world: World) -> None:
    """Two processes on one database: when one rotates the single-use refresh token, the other
    reads the newer pair from the database instead of failing with a spent token (-14020)."""
    settings = _zalo_only(world)
    mine = daemon.build_channels(settings, world.storage, world.client)["zalo"]  # type: ignore[arg-type]
    theirs = daemon.build_channels(settings, world.storage, world.client)["zalo"]  # type: ignore[arg-type]
    assert (await mine.check()).ok  # mine refreshes with the configured refresh token
    world.zalo.expire_access_token()
    assert (await theirs.check()).ok  # theirs reads mine's pair, is refused, rotates it
    refreshes = world.zalo.refresh_count
    state = await mine.check()  # mine holds a dead token and a spent pair: adopts theirs
    assert world.zalo.refresh_count == refreshes  # no refresh with the spent token
    assert state.ok, state.detail
    assert world.storage.channel_status("zalo").status == "active"
