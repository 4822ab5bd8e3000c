"""The Zalo OA channel against the Zalo stand-in, over real sockets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from channels import TokenSet, UnverifiedError, ZaloOA, parse_channel_settings
from syndicator.errors import (
    AmbiguousError,
    CredentialsError,
    PermanentError,
    TemporaryError,
    ThrottledError,
)
from syndicator.sandbox.zalo import ZaloServer
from tests.channels.conftest import MemoryTokenStore, make_article

STARTED = datetime.now(UTC)


def make_channel(
    zalo: ZaloServer, http: httpx.AsyncClient, store: MemoryTokenStore, **extra: Any
) -> ZaloOA:
    """A channel pointed at the stand-in; no verify delay, short timeout for hang faults."""
    raw = {
        "kind": "zalo_oa",
        "app_id": zalo.app_id,
        "secret_key": zalo.secret_key,
        "refresh_token": zalo.refresh_token,
        "default_cover_url": "https://example-province.gov.vn/logo.jpg",
        "api_base": zalo.api_base,
        "oauth_base": zalo.oauth_base,
        "timeout": "1s",
        "verify_delay": 0,
        **extra,
    }
    settings = parse_channel_settings("zalo", raw)
    return ZaloOA("zalo", settings, client=http, token_store=store)  # type: ignore[arg-type]


def seed(store: MemoryTokenStore, zalo: ZaloServer, *, expires_in: timedelta) -> None:
    """Put the stand-in's initial, live access token into the store."""
    now = datetime.now(UTC)
    store.tokens["zalo"] = TokenSet(
        "zalo-access-0", zalo.refresh_token, now + expires_in, now - timedelta(hours=1)
    )


async def test_first_refresh_is_stored_before_the_token_is_used(
    zalo: ZaloServer,
    http: httpx.AsyncClient,
    token_store: MemoryTokenStore,
    events: list[tuple[str, ...]],
) -> None:
    """The rotated refresh token is saved before the new access token reaches any OA call."""
    channel = make_channel(zalo, http, token_store)
    result = await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)
    saved = token_store.tokens["zalo"]
    assert saved.refresh_token == zalo.refresh_token != "zalo-refresh-0"
    assert events.index(("save", saved.access_token, saved.refresh_token)) < next(
        i for i, event in enumerate(events) if event[0] == "use" and event[1] == saved.access_token
    )
    assert zalo.articles[result.external_id].title == make_article().title


async def test_happy_path_hands_over_the_token_before_verifying(
    zalo: ZaloServer,
    http: httpx.AsyncClient,
    token_store: MemoryTokenStore,
    events: list[tuple[str, ...]],
) -> None:
    """on_handle gets the processing token before the first verify; -214 then the id."""
    zalo.verify_pending_calls = 2
    seed(token_store, zalo, expires_in=timedelta(hours=20))
    channel = make_channel(zalo, http, token_store)

    async def on_handle(handle: dict[str, Any]) -> None:
        events.append(("handle", handle["zalo_token"]))

    post = channel.render(make_article())
    result = await channel.publish(post, attempt_started_at=STARTED, on_handle=on_handle)
    [article] = zalo.live_articles()
    assert result.external_id == article.id
    assert result.details == {"zalo_token": article.tokens[0]}
    assert result.permalink == f"https://zalo.me/{zalo.oa_id}/article/{article.id}"
    handle_at = events.index(("handle", article.tokens[0]))
    verifies = [i for i, e in enumerate(events) if e[0] == "use" and e[2].endswith("/verify")]
    assert len(verifies) == 3 and handle_at < verifies[0]
    assert zalo.refresh_count == 0
    assert article.body == post.payload["body"] and article.cover == post.payload["cover"]


async def test_reused_refresh_token_needs_a_human(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """A refresh token that was already spent gives CredentialsError with the fix command."""
    channel = make_channel(zalo, http, token_store, refresh_token="zalo-refresh-spent")
    with pytest.raises(CredentialsError, match="syndicator channels set-token zalo"):
        await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)
    assert zalo.live_articles() == []


async def test_auth_error_mid_run_refreshes_once_and_retries_once(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """-216 on create triggers one refresh and one retry, and one article results."""
    seed(token_store, zalo, expires_in=timedelta(hours=20))
    channel = make_channel(zalo, http, token_store)
    zalo.add_fault("error", scope="create", code=-216)
    await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)
    assert zalo.refresh_count == 1 and len(zalo.live_articles()) == 1
    assert token_store.tokens["zalo"].refresh_token == zalo.refresh_token


async def test_second_auth_error_is_credentials_error(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """An auth error right after a refresh is not retried again."""
    seed(token_store, zalo, expires_in=timedelta(hours=20))
    channel = make_channel(zalo, http, token_store)
    zalo.add_fault("error", scope="create", code=-220, times=2)
    with pytest.raises(CredentialsError):
        await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)
    assert zalo.refresh_count == 1 and zalo.live_articles() == []


async def test_proactive_refresh_before_expiry(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """A token with less than refresh_margin left is renewed before the call."""
    seed(token_store, zalo, expires_in=timedelta(minutes=30))
    channel = make_channel(zalo, http, token_store)
    await channel.check()
    assert zalo.refresh_count == 1


async def test_refresh_is_single_flight(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """Concurrent calls that all need a token cause exactly one refresh."""
    channel = make_channel(zalo, http, token_store)
    states = await asyncio.gather(*(channel.check() for _ in range(5)))
    assert all(state.ok for state in states) and zalo.refresh_count == 1


async def test_failed_token_save_keeps_the_new_pair(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """When saving the rotated pair fails, it is not used, and saving is retried first."""
    channel = make_channel(zalo, http, token_store)
    token_store.fail_next_save = True
    with pytest.raises(TemporaryError, match="could not store"):
        await channel.check()
    assert "zalo" not in token_store.tokens
    assert (await channel.check()).ok
    assert (
        zalo.refresh_count == 1 and token_store.tokens["zalo"].refresh_token == zalo.refresh_token
    )


async def test_create_hang_then_reconcile_by_title(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """A create whose answer is lost is ambiguous; reconcile finds the one article by title."""
    seed(token_store, zalo, expires_in=timedelta(hours=20))
    channel = make_channel(zalo, http, token_store)
    await channel.publish(
        channel.render(make_article(title="Một bài khác")), attempt_started_at=STARTED
    )
    post = channel.render(make_article())
    zalo.add_fault("accept_then_hang", scope="create", hold=5)
    with pytest.raises(AmbiguousError) as caught:
        await channel.publish(post, attempt_started_at=STARTED)
    assert not isinstance(caught.value, UnverifiedError)
    found = await channel.reconcile(post, attempt_started_at=STARTED, handle={})
    matching = [a for a in zalo.live_articles() if a.title == post.marker]
    assert len(matching) == 1 and found is not None and found.external_id == matching[0].id


async def test_reconcile_ignores_articles_older_than_the_attempt(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """An article with the same title from before the attempt is not taken for this one."""
    seed(token_store, zalo, expires_in=timedelta(hours=20))
    channel = make_channel(zalo, http, token_store)
    post = channel.render(make_article())
    await channel.publish(post, attempt_started_at=STARTED)
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await channel.reconcile(post, attempt_started_at=later) is None


async def test_unverified_then_reconcile_with_handle(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """A long processing tail raises UnverifiedError; reconcile continues with the token."""
    zalo.verify_pending_calls = 100
    seed(token_store, zalo, expires_in=timedelta(hours=20))
    channel = make_channel(zalo, http, token_store, verify_attempts=3)
    post = channel.render(make_article())
    with pytest.raises(UnverifiedError) as caught:
        await channel.publish(post, attempt_started_at=STARTED)
    zalo.verify_pending_calls = 0
    found = await channel.reconcile(post, attempt_started_at=STARTED, handle=caught.value.handle)
    [article] = zalo.live_articles()
    assert found is not None and found.external_id == article.id


async def test_reconcile_with_unknown_token_is_not_found(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """A token Zalo does not know means nothing was created."""
    seed(token_store, zalo, expires_in=timedelta(hours=20))
    channel = make_channel(zalo, http, token_store)
    post = channel.render(make_article())
    found = await channel.reconcile(post, attempt_started_at=STARTED, handle={"zalo_token": "x"})
    assert found is None


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (-223, ThrottledError),
        (-211, ThrottledError),
        (-32, AmbiguousError),  # on a create: may have been created (api-notes 2.7)
        (-100, AmbiguousError),
        (-224, CredentialsError),
        (-201, PermanentError),
        (-248, PermanentError),
    ],
)
async def test_business_errors_are_classified(
    zalo: ZaloServer,
    http: httpx.AsyncClient,
    token_store: MemoryTokenStore,
    code: int,
    error: type[Exception],
) -> None:
    """Each Zalo error code on create maps to the documented exception class."""
    seed(token_store, zalo, expires_in=timedelta(hours=20))
    channel = make_channel(zalo, http, token_store)
    zalo.add_fault("error", scope="create", code=code)
    with pytest.raises(error) as caught:
        await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)
    assert type(caught.value) is error and caught.value.code == code  # type: ignore[attr-defined]
    if code in (-223, -211):
        assert 0 < caught.value.retry_after <= 86400  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["http500_no_body", "drop"])
async def test_create_without_answer_is_ambiguous(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore, kind: str
) -> None:
    """A bare 500 or a dropped connection on create is AmbiguousError."""
    seed(token_store, zalo, expires_in=timedelta(hours=20))
    channel = make_channel(zalo, http, token_store)
    zalo.add_fault(kind, scope="create")
    with pytest.raises(AmbiguousError):
        await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)


async def test_check_reports_the_oa(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """check() gets a token and names the OA; a dead refresh token reports not ok."""
    channel = make_channel(zalo, http, token_store)
    state = await channel.check()
    assert state.ok and zalo.oa_name in state.detail and state.expires_at is not None
    broken = make_channel(zalo, http, MemoryTokenStore(), refresh_token="spent")
    state = await broken.check()
    assert not state.ok and "set-token" in state.detail


async def test_broadcast_digest(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """A digest of published articles is one broadcast naming them; ambiguity is not retried."""
    seed(token_store, zalo, expires_in=timedelta(hours=20))
    channel = make_channel(zalo, http, token_store)
    result = await channel.publish(channel.render(make_article()), attempt_started_at=STARTED)
    message_id = await channel.broadcast_digest([result.external_id])
    assert zalo.broadcasts[0]["message_id"] == message_id
    assert zalo.broadcasts[0]["article_ids"] == [result.external_id]
    zalo.add_fault("drop", scope="message")
    with pytest.raises(AmbiguousError):
        await channel.broadcast_digest([result.external_id])
    assert len(zalo.broadcasts) == 2
    with pytest.raises(PermanentError):
        await channel.broadcast_digest(["a"] * 6)


async def test_refresh_lost_before_zalo_saw_it_is_retried(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """A refresh dropped before Zalo processed it is retried once with the same token."""
    channel = make_channel(zalo, http, token_store)
    zalo.add_fault("drop_before", scope="oauth")
    assert (await channel.check()).ok
    assert zalo.refresh_count == 1


async def test_refresh_answer_lost_after_rotation_needs_a_human(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """When Zalo rotated but the answer was lost, the retry finds the token spent: alert."""
    channel = make_channel(zalo, http, token_store)
    zalo.add_fault("drop", scope="oauth")
    state = await channel.check()
    assert not state.ok and "spent by a refresh whose answer was lost" in state.detail
    assert "zalo" not in token_store.tokens


def test_reconcile_matching_accepts_seconds_and_shortened_titles() -> None:
    """create_date in seconds or milliseconds; a title shortened after a length refusal."""
    from channels.zalo_oa import _same_article, shortened

    title = "Ủy ban nhân dân tỉnh thông báo lịch tiếp công dân định kỳ tháng 12 năm 2026"
    since_ms = 1_764_000_000_000.0
    assert _same_article({"id": "1", "title": title, "create_date": 1_764_000_100}, title, since_ms)
    assert not _same_article(
        {"id": "1", "title": title, "create_date": 1_763_000_000}, title, since_ms
    )
    assert _same_article({"id": "1", "title": title, "create_date": since_ms + 5}, title, since_ms)
    short = shortened({"title": title, "description": title})
    assert len(short["title"]) < len(title) and short["title"].endswith("…")
    assert _same_article({"id": "2", "title": short["title"]}, title, since_ms)
    assert not _same_article({"id": "3", "title": "Bài khác…"}, title, since_ms)


async def test_title_at_the_limit_is_refused_then_sent_shorter_once(
    zalo: ZaloServer, http: httpx.AsyncClient, token_store: MemoryTokenStore
) -> None:
    """A title of exactly 150 characters is refused (-201, nothing created); the channel
    shortens it once and the article goes out; reconcile would still match it."""
    from dataclasses import replace

    channel = make_channel(zalo, http, token_store)
    post = channel.render(make_article())
    long_title = ("Thông báo kết quả lựa chọn nhà thầu gói thầu xây dựng " * 4)[:150]
    payload = {**post.payload, "title": long_title}
    result = await channel.publish(
        replace(post, payload=payload, marker=long_title), attempt_started_at=STARTED
    )
    [article] = zalo.live_articles()
    assert result.external_id == article.id and len(article.title) < 150
    creates = [r for r in zalo.requests if r["path"].endswith("/article/create")]
    assert len(creates) == 2
    found = await channel.reconcile(
        replace(post, payload=payload, marker=long_title), attempt_started_at=STARTED
    )
    assert found is not None and found.external_id == article.id
