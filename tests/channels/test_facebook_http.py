"""The Facebook Page channel against the Graph stand-in, over real sockets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from channels import FacebookPage, parse_channel_settings
from syndicator.errors import (
    AmbiguousError,
    ChannelBlockedError,
    CredentialsError,
    PermanentError,
    TemporaryError,
    ThrottledError,
)
from syndicator.sandbox.graph import GraphServer
from tests.channels.conftest import PAGE_ID, PAGE_TOKEN, make_article

STARTED = datetime.now(UTC)


def make_channel(graph: GraphServer, http: httpx.AsyncClient, **extra: Any) -> FacebookPage:
    """A channel pointed at the stand-in, with a short timeout for the hang faults."""
    raw = {
        "kind": "facebook_page",
        "page_id": PAGE_ID,
        "access_token": PAGE_TOKEN,
        "api_base": graph.base_url,
        "timeout": "1s",
        **extra,
    }
    settings = parse_channel_settings("facebook", raw)
    return FacebookPage("facebook", settings, client=http)  # type: ignore[arg-type]


async def test_link_post_happy_path(graph: GraphServer, http: httpx.AsyncClient) -> None:
    """A link post sends exactly the stored payload and returns the post id and permalink."""
    channel = make_channel(graph, http)
    post = channel.render(make_article())
    result = await channel.publish(post, attempt_started_at=STARTED)
    [created] = graph.live_posts(PAGE_ID)
    assert result.external_id == created.id
    assert result.permalink == f"https://www.facebook.com/{PAGE_ID}/posts/1"
    assert created.message == post.payload["message"] and created.link == post.payload["link"]
    publish_call = next(r for r in graph.requests if r["method"] == "POST")
    assert publish_call["path"] == f"/v23.0/{PAGE_ID}/feed"
    assert channel.usage_pct is not None and channel.usage_pct > 0


async def test_photo_post_happy_path(graph: GraphServer, http: httpx.AsyncClient) -> None:
    """A photo post goes to /photos with url and caption; the result is the post id."""
    channel = make_channel(graph, http, post_as="photo")
    post = channel.render(make_article())
    result = await channel.publish(post, attempt_started_at=STARTED)
    [created] = graph.live_posts(PAGE_ID)
    assert result.external_id == created.id
    assert result.details["photo_id"] == created.photo_id
    assert created.image == make_article().image_url
    assert created.message == post.payload["caption"]


@pytest.mark.parametrize("code", [1, 2])
async def test_codes_1_and_2_on_create_are_ambiguous(
    graph: GraphServer, http: httpx.AsyncClient, code: int
) -> None:
    """Codes 1 and 2 on a create may hide a created post: AmbiguousError, never Temporary."""
    channel = make_channel(graph, http)
    graph.add_fault("error", scope="publish", code=code)
    with pytest.raises(AmbiguousError) as caught:
        await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)
    assert caught.value.code == code
    assert graph.live_posts() == []


@pytest.mark.parametrize("code", [1, 2])
async def test_created_then_code_500_is_found_by_reconcile(
    graph: GraphServer, http: httpx.AsyncClient, code: int
) -> None:
    """Graph created the post and still answered code 1/2 with HTTP 500: reconcile finds it."""
    channel = make_channel(graph, http, post_as="photo")
    post = channel.render(make_article())
    graph.add_fault("error", scope="publish", code=code, commit=True)
    with pytest.raises(AmbiguousError):
        await channel.publish(post, attempt_started_at=STARTED)
    [created] = graph.live_posts(PAGE_ID)
    found = await channel.reconcile(post, attempt_started_at=STARTED)
    assert found is not None and found.external_id == created.id


@pytest.mark.parametrize("code", [1, 2])
async def test_codes_1_and_2_on_reads_are_temporary(
    graph: GraphServer, http: httpx.AsyncClient, code: int
) -> None:
    """A read answered 1/2 can simply be tried again: TemporaryError."""
    channel = make_channel(graph, http)
    graph.add_fault("error", scope="read", code=code)
    with pytest.raises(TemporaryError) as caught:
        await channel.reconcile(channel.render(make_article()), attempt_started_at=STARTED)
    assert caught.value.code == code and not isinstance(caught.value, ThrottledError)


async def test_reconcile_asks_only_for_fields_that_exist(
    graph: GraphServer, http: httpx.AsyncClient
) -> None:
    """The stand-in answers (#12) for `link` as Graph does; our reconcile never asks for it."""
    channel = make_channel(graph, http)
    post = channel.render(make_article())
    await channel.publish(post, attempt_started_at=STARTED)
    found = await channel.reconcile(post, attempt_started_at=STARTED)
    assert found is not None
    raw = await http.get(
        f"{graph.base_url}/v23.0/{PAGE_ID}/published_posts",
        params={"fields": "id,link"},
        headers={"Authorization": f"Bearer {PAGE_TOKEN}"},
    )
    assert raw.status_code == 400 and raw.json()["error"]["code"] == 12


async def test_token_never_in_the_url(graph: GraphServer, http: httpx.AsyncClient) -> None:
    """The Page token goes in the POST body or the Authorization header, never the query."""
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(str(request.url))

    http.event_hooks["request"].append(record)
    channel = make_channel(graph, http)
    post = channel.render(make_article())
    await channel.publish(post, attempt_started_at=STARTED)
    await channel.reconcile(post, attempt_started_at=STARTED)
    await channel.check()
    assert seen and not any(PAGE_TOKEN in url or "access_token" in url for url in seen)


async def test_368_blocks_the_channel(graph: GraphServer, http: httpx.AsyncClient) -> None:
    """368 is a block for hours: ChannelBlockedError, and no call is made meanwhile."""
    channel = make_channel(graph, http)
    graph.add_fault("error", scope="publish", code=368)
    post = channel.render(make_article())
    with pytest.raises(ChannelBlockedError) as caught:
        await channel.publish(post, attempt_started_at=STARTED)
    assert caught.value.retry_after >= 3600 and not caught.value.duplicate
    calls = len(graph.requests)
    with pytest.raises(ThrottledError):
        await channel.publish(post, attempt_started_at=STARTED)
    assert len(graph.requests) == calls


@pytest.mark.parametrize("code", [17, 80001])
async def test_throttle_codes(graph: GraphServer, http: httpx.AsyncClient, code: int) -> None:
    """Throttle codes wait the BUC regain time, and the channel makes no call meanwhile."""
    channel = make_channel(graph, http)
    graph.add_fault("error", scope="publish", code=code, estimated_time_to_regain_access=3)
    post = channel.render(make_article())
    with pytest.raises(ThrottledError) as caught:
        await channel.publish(post, attempt_started_at=STARTED)
    assert caught.value.retry_after == 180
    assert channel.usage_pct == 100
    calls = len(graph.requests)
    with pytest.raises(ThrottledError):
        await channel.publish(post, attempt_started_at=STARTED)
    assert len(graph.requests) == calls


async def test_throttle_without_regain_time_waits_a_minute(
    graph: GraphServer, http: httpx.AsyncClient
) -> None:
    """Without a regain time in the headers the wait is one minute."""
    channel = make_channel(graph, http)
    graph.add_fault("error", scope="publish", code=613, estimated_time_to_regain_access=0)
    with pytest.raises(ThrottledError) as caught:
        await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)
    assert caught.value.retry_after == 60


async def test_expired_token_is_credentials_error(
    graph: GraphServer, http: httpx.AsyncClient
) -> None:
    """Code 190 is CredentialsError naming the fix."""
    channel = make_channel(graph, http)
    graph.expire_token(PAGE_TOKEN)
    with pytest.raises(CredentialsError, match="190/463") as caught:
        await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)
    assert caught.value.code == 190


@pytest.mark.parametrize("code", [100, 1609005])
async def test_permanent_codes(graph: GraphServer, http: httpx.AsyncClient, code: int) -> None:
    """Invalid parameter and unscrapable link are PermanentError, not credentials."""
    channel = make_channel(graph, http)
    graph.add_fault("error", scope="publish", code=code)
    with pytest.raises(PermanentError) as caught:
        await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)
    assert caught.value.code == code and not isinstance(caught.value, CredentialsError)


async def test_duplicate_506_is_ambiguous_and_reconcile_finds_it(
    graph: GraphServer, http: httpx.AsyncClient
) -> None:
    """A 506 on a repeat means the first went out: reconcile returns that first post."""
    channel = make_channel(graph, http)
    post = channel.render(make_article())
    first = await channel.publish(post, attempt_started_at=STARTED)
    with pytest.raises(AmbiguousError) as caught:
        await channel.publish(post, attempt_started_at=STARTED)
    assert caught.value.code == 506 and caught.value.duplicate
    found = await channel.reconcile(post, attempt_started_at=STARTED)
    assert found is not None and found.external_id == first.external_id
    assert len(graph.live_posts()) == 1


@pytest.mark.parametrize("kind", ["accept_then_hang", "drop", "http500_no_body"])
async def test_lost_answer_is_ambiguous(
    graph: GraphServer, http: httpx.AsyncClient, kind: str
) -> None:
    """A hang, a dropped connection or a bare 500 after sending is AmbiguousError."""
    channel = make_channel(graph, http)
    graph.add_fault(kind, scope="publish", hold=5)
    with pytest.raises(AmbiguousError):
        await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)


async def test_hang_then_reconcile_finds_exactly_one(
    graph: GraphServer, http: httpx.AsyncClient
) -> None:
    """After accept_then_hang, reconcile finds the one post that was created, by its link."""
    channel = make_channel(graph, http, utm={"utm_source": "facebook"})
    other = channel.render(make_article(url="https://example.gov.vn/khac", title="Bài khác"))
    await channel.publish(
        replace(other, marker="https://example.gov.vn/khac"), attempt_started_at=STARTED
    )
    post = channel.render(make_article())
    graph.add_fault("accept_then_hang", scope="publish", hold=5)
    with pytest.raises(AmbiguousError):
        await channel.publish(post, attempt_started_at=STARTED)
    found = await channel.reconcile(post, attempt_started_at=STARTED)
    assert len(graph.live_posts()) == 2
    assert found is not None and "duplicates" not in found.details
    assert graph.posts[found.external_id].link == post.payload["link"]
    assert found.permalink is not None


async def test_reconcile_finds_photo_post_by_link_in_caption(
    graph: GraphServer, http: httpx.AsyncClient
) -> None:
    """Photo posts carry the link only in the caption; reconcile still finds them."""
    channel = make_channel(graph, http, post_as="photo")
    post = channel.render(make_article())
    graph.add_fault("drop", scope="publish")
    with pytest.raises(AmbiguousError):
        await channel.publish(post, attempt_started_at=STARTED)
    found = await channel.reconcile(post, attempt_started_at=STARTED)
    assert found is not None and found.external_id == graph.live_posts()[0].id


async def test_reconcile_returns_none_when_nothing_was_posted(
    graph: GraphServer, http: httpx.AsyncClient
) -> None:
    """A request dropped before the work leaves nothing, and reconcile says so."""
    channel = make_channel(graph, http)
    post = channel.render(make_article())
    graph.add_fault("drop_before", scope="publish")
    with pytest.raises(AmbiguousError):
        await channel.publish(post, attempt_started_at=STARTED)
    assert await channel.reconcile(post, attempt_started_at=STARTED) is None


async def test_permalink_failure_leaves_it_empty(
    graph: GraphServer, http: httpx.AsyncClient
) -> None:
    """When the permalink read fails twice the publish still succeeds without one."""
    channel = make_channel(graph, http)
    graph.add_fault("error", scope="read", code=2, times=2)
    result = await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)
    assert result.permalink is None and result.external_id


async def test_usage_headers_are_exposed(graph: GraphServer, http: httpx.AsyncClient) -> None:
    """usage_pct is the highest percentage in the usage headers of the last answer."""
    channel = make_channel(graph, http)
    graph.set_usage(call_count=80, total_time=10, total_cputime=5)
    await channel.check()
    assert channel.usage_pct == 81


async def test_check_with_app_credentials(graph: GraphServer, http: httpx.AsyncClient) -> None:
    """With app_id and app_secret, check() asks debug_token and reports validity."""
    channel = make_channel(graph, http, app_id=graph.app_id, app_secret="secret")
    state = await channel.check()
    assert state.ok and "PAGE" in state.detail and state.expires_at is None
    graph.expire_token(PAGE_TOKEN)
    state = await channel.check()
    assert not state.ok and "expired" in state.detail


async def test_check_without_app_credentials(graph: GraphServer, http: httpx.AsyncClient) -> None:
    """Without app credentials, check() reads the Page with the Page token."""
    channel = make_channel(graph, http)
    state = await channel.check()
    assert state.ok and state.detail == "Page Cổng TTĐT tỉnh"
    graph.revoke_token(PAGE_TOKEN)
    state = await channel.check()
    assert not state.ok and "190" in state.detail
