"""The Zalo OA stand-in, driven over real sockets with httpx."""

from __future__ import annotations

import time

import httpx
import pytest

from syndicator.sandbox import ZaloServer

ACCESS = "zalo-access-0"
REFRESH = "zalo-refresh-0"


def article(**changes):
    body = {
        "type": "normal",
        "title": "UBND tỉnh họp phiên thường kỳ",
        "author": "Cổng TTĐT",
        "description": "Tóm tắt bài viết",
        "cover": {"cover_type": "photo", "photo_url": "https://portal.example/a.jpg"},
        "body": [{"type": "text", "content": "Nội dung"}],
        "status": "show",
        "comment": "show",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


@pytest.fixture
async def zalo():
    server = ZaloServer(verify_pending_calls=2)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


async def call(client, zalo, method, path, token=ACCESS, **kwargs):
    headers = {"access_token": token} if token else {}
    response = await client.request(method, zalo.api_base + path, headers=headers, **kwargs)
    assert response.status_code == 200
    return response.json()


async def refresh(client, zalo, refresh_token, secret=None):
    form = {"refresh_token": refresh_token, "app_id": zalo.app_id, "grant_type": "refresh_token"}
    headers = {"secret_key": secret or zalo.secret_key}
    response = await client.post(
        zalo.oauth_base + "/v4/oa/access_token", data=form, headers=headers
    )
    return response.json()


async def test_create_verify_detail_and_slice(client, zalo):
    """create returns a token, verify answers -214 twice then the id, and reads find it."""
    created = await call(client, zalo, "POST", "/v2.0/article/create", json=article())
    assert created["error"] == 0
    token = created["data"]["token"]
    answers = [
        await call(client, zalo, "POST", "/v2.0/article/verify", json={"token": token})
        for _ in range(3)
    ]
    assert [answer["error"] for answer in answers] == [-214, -214, 0]
    article_id = answers[-1]["data"]["id"]
    detail = await call(client, zalo, "GET", "/v2.0/article/getdetail", params={"id": article_id})
    assert detail["data"]["title"] == "UBND tỉnh họp phiên thường kỳ"
    params = {"offset": 0, "limit": 10, "type": "normal"}
    listed = await call(client, zalo, "GET", "/v2.0/article/getslice", params=params)
    assert listed["data"]["total"] == 1
    assert listed["data"]["medias"][0]["id"] == article_id
    assert listed["data"]["medias"][0]["create_date"] > 1_000_000_000_000  # milliseconds


@pytest.mark.parametrize(
    "changes",
    [
        {"title": "x" * 151},
        {"author": "x" * 51},
        {"description": "x" * 301},
        {"type": "photo"},
        {"status": "visible"},
        {"comment": "enable"},
        {"cover": None},
        {"author": None},
    ],
)
async def test_create_validation_is_201(client, zalo, changes):
    """Each documented field rule rejects the article with -201 and stores nothing."""
    answer = await call(client, zalo, "POST", "/v2.0/article/create", json=article(**changes))
    assert answer["error"] == -201
    assert zalo.articles == {}


async def test_limits_are_inclusive(client, zalo):
    """Author and description exactly at their limits are accepted; a title of exactly 150 is
    refused, as production clients report (api-notes 0), and 149 is accepted."""
    body = article(title="t" * 149, author="a" * 50, description="d" * 300)
    assert (await call(client, zalo, "POST", "/v2.0/article/create", json=body))["error"] == 0
    refused = await call(
        client, zalo, "POST", "/v2.0/article/create", json={**body, "title": "t" * 150}
    )
    assert refused["error"] == -201 and "length" in refused["message"]


@pytest.mark.parametrize("token", [None, "unknown"])
async def test_missing_or_unknown_token_is_216(client, zalo, token):
    """Calls without a known access_token header answer HTTP 200 with -216."""
    answer = await call(client, zalo, "GET", "/v2.0/oa/getoa", token=token)
    assert answer["error"] == -216


async def test_bearer_header_is_not_accepted(client, zalo):
    """Authorization: Bearer is ignored, as public bug reports describe."""
    response = await client.get(
        zalo.api_base + "/v2.0/oa/getoa", headers={"Authorization": f"Bearer {ACCESS}"}
    )
    assert response.json()["error"] == -216


async def test_refresh_rotates_and_old_token_dies(client, zalo):
    """A refresh returns a new pair with expires_in as a string; the old refresh token dies."""
    first = await refresh(client, zalo, REFRESH)
    assert first["expires_in"] == "90000"
    assert first["refresh_token"] != REFRESH
    answer = await call(client, zalo, "GET", "/v2.0/oa/getoa", token=first["access_token"])
    assert answer["data"]["oa_id"] == zalo.oa_id
    reused = await refresh(client, zalo, REFRESH)
    assert "access_token" not in reused
    assert reused["error"] < 0
    assert reused["error_name"]
    assert reused["error_description"]
    second = await refresh(client, zalo, first["refresh_token"])
    assert "access_token" in second


async def test_refresh_needs_secret_and_app_id(client, zalo):
    """A wrong secret_key header or app_id is refused without tokens."""
    wrong_secret = await refresh(client, zalo, REFRESH, secret="wrong")
    assert "access_token" not in wrong_secret
    assert wrong_secret["error"] < 0
    form = {"refresh_token": REFRESH, "app_id": "1", "grant_type": "refresh_token"}
    wrong_app = await client.post(
        zalo.oauth_base + "/v4/oa/access_token", data=form, headers={"secret_key": zalo.secret_key}
    )
    assert "access_token" not in wrong_app.json()
    assert zalo.refresh_token == REFRESH


async def test_authorization_code_grant(client, zalo):
    """An authorization code is exchanged once for a token pair."""
    code = zalo.create_auth_code()
    form = {"code": code, "app_id": zalo.app_id, "grant_type": "authorization_code"}
    headers = {"secret_key": zalo.secret_key}
    url = zalo.oauth_base + "/v4/oa/access_token"
    assert "access_token" in (await client.post(url, data=form, headers=headers)).json()
    assert "access_token" not in (await client.post(url, data=form, headers=headers)).json()


async def test_access_token_expires_with_the_clock(client):
    """An access token older than expires_in answers -216."""
    now = [1000.0]
    zalo = ZaloServer(expires_in=60, clock=lambda: now[0])
    await zalo.start()
    try:
        assert (await call(client, zalo, "GET", "/v2.0/oa/getoa"))["error"] == 0
        now[0] += 61
        assert (await call(client, zalo, "GET", "/v2.0/oa/getoa"))["error"] == -216
        fresh = await refresh(client, zalo, REFRESH)
        assert fresh["expires_in"] == 60
    finally:
        await zalo.stop()


async def test_expiry_mid_run_is_220(client, zalo):
    """expire_access_token and an injected -220 both kill the token until a refresh."""
    zalo.expire_access_token()
    assert (await call(client, zalo, "GET", "/v2.0/oa/getoa"))["error"] == -220
    fresh = (await refresh(client, zalo, REFRESH))["access_token"]
    zalo.add_fault("error", scope="create", code=-220)
    body = article()
    answer = await call(client, zalo, "POST", "/v2.0/article/create", token=fresh, json=body)
    assert answer["error"] == -220
    assert (await call(client, zalo, "GET", "/v2.0/oa/getoa", token=fresh))["error"] == -220


async def test_getslice_rules_and_order(client, zalo):
    """getslice is newest first, pages by offset and rejects bad type and limit over 10."""
    for number in range(12):
        body = article(title=f"Bài {number}")
        await call(client, zalo, "POST", "/v2.0/article/create", json=body)
    path = "/v2.0/article/getslice"
    page = await call(
        client, zalo, "GET", path, params={"offset": 10, "limit": 10, "type": "normal"}
    )
    assert [m["title"] for m in page["data"]["medias"]] == ["Bài 1", "Bài 0"]
    assert page["data"]["total"] == 12
    too_many = await call(client, zalo, "GET", path, params={"limit": 11, "type": "normal"})
    assert too_many["error"] == -201
    bad_type = await call(client, zalo, "GET", path, params={"type": "all"})
    assert bad_type["error"] == -201


async def test_update_and_remove(client, zalo):
    """update returns a new token that verifies to the same id; remove hides the article."""
    zalo.verify_pending_calls = 0
    token = (await call(client, zalo, "POST", "/v2.0/article/create", json=article()))["data"]
    verify = "/v2.0/article/verify"
    article_id = (await call(client, zalo, "POST", verify, json=token))["data"]["id"]
    updated = await call(
        client, zalo, "POST", "/v2.0/article/update", json=article(id=article_id, status="hide")
    )
    assert updated["data"]["token"] != token["token"]
    again = await call(client, zalo, "POST", verify, json=updated["data"])
    assert again["data"]["id"] == article_id
    assert zalo.articles[article_id].status == "hide"
    removed = await call(client, zalo, "POST", "/v2.0/article/remove", json={"id": article_id})
    assert removed["error"] == 0
    detail = await call(client, zalo, "GET", "/v2.0/article/getdetail", params={"id": article_id})
    assert detail["error"] == -201


async def test_upload_and_broadcast(client, zalo):
    """Images upload to an attachment_id and a broadcast of a known article gets a message_id."""
    upload = await call(
        client, zalo, "POST", "/v2.0/oa/upload/image", files={"file": ("a.jpg", b"jpeg")}
    )
    assert upload["data"]["attachment_id"]
    zalo.verify_pending_calls = 0
    token = (await call(client, zalo, "POST", "/v2.0/article/create", json=article()))["data"]
    article_id = (await call(client, zalo, "POST", "/v2.0/article/verify", json=token))["data"]
    element = {"media_type": "article", "attachment_id": article_id["id"]}
    message = {
        "recipient": {"target": {}},
        "message": {
            "attachment": {
                "type": "template",
                "payload": {"template_type": "media", "elements": [element]},
            }
        },
    }
    sent = await call(client, zalo, "POST", "/v2.0/oa/message", json=message)
    assert sent["data"]["message_id"] == zalo.broadcasts[0]["message_id"]
    element["attachment_id"] = "missing"
    assert (await call(client, zalo, "POST", "/v2.0/oa/message", json=message))["error"] == -201


async def test_unknown_path_is_404_envelope(client, zalo):
    """An unknown API path answers HTTP 200 with error 404."""
    answer = await call(client, zalo, "GET", "/v2.0/article/list")
    assert answer["error"] == 404
    assert answer["message"].startswith("You are accessing an empty or invalid API")


async def test_verify_long_tail_and_quota_faults(client, zalo):
    """Injected -214s stretch verify; -223, -224 and -100 hit create once each."""
    zalo.verify_pending_calls = 0
    for code in (-223, -224, -100):
        zalo.add_fault("error", scope="create", code=code)
        answer = await call(client, zalo, "POST", "/v2.0/article/create", json=article())
        assert answer["error"] == code
    token = (await call(client, zalo, "POST", "/v2.0/article/create", json=article()))["data"]
    zalo.add_fault("error", scope="verify", code=-214, times=5)
    codes = [
        (await call(client, zalo, "POST", "/v2.0/article/verify", json=token))["error"]
        for _ in range(6)
    ]
    assert codes == [-214] * 5 + [0]


async def test_create_accept_then_hang_leaves_an_article(client, zalo):
    """A hung create still made the article, which getslice finds by title."""
    zalo.add_fault("accept_then_hang", scope="create", hold=5)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(
            zalo.api_base + "/v2.0/article/create",
            json=article(title="Bài treo"),
            headers={"access_token": ACCESS},
            timeout=0.3,
        )
    params = {"offset": 0, "limit": 10, "type": "normal"}
    listed = await call(client, zalo, "GET", "/v2.0/article/getslice", params=params)
    assert [m["title"] for m in listed["data"]["medias"]] == ["Bài treo"]


async def test_http500_and_slow_faults(client, zalo):
    """http500_no_body answers an empty 500 without creating; slow delays a read."""
    zalo.add_fault("http500_no_body", scope="create")
    response = await client.post(
        zalo.api_base + "/v2.0/article/create", json=article(), headers={"access_token": ACCESS}
    )
    assert (response.status_code, response.content) == (500, b"")
    assert zalo.articles == {}
    zalo.add_fault("slow", scope="read", delay=0.3)
    started = time.monotonic()
    assert (await call(client, zalo, "GET", "/v2.0/oa/getoa"))["error"] == 0
    assert time.monotonic() - started >= 0.3


async def test_refresh_dropped_after_rotation_loses_the_pair(client, zalo):
    """A refresh dropped after Zalo rotated leaves the old refresh token dead (2.3 hazard)."""
    zalo.add_fault("drop", scope="oauth")
    with pytest.raises(httpx.RemoteProtocolError):
        await refresh(client, zalo, REFRESH)
    assert zalo.refresh_token != REFRESH
    assert "access_token" not in await refresh(client, zalo, REFRESH)


async def test_http_control_and_state(client, zalo):
    """Faults and expiry can be driven over HTTP and the state lists articles and broadcasts."""
    fault = {"kind": "error", "scope": "create", "code": -223}
    assert (await client.post(zalo.base_url + "/_sandbox/faults", json=fault)).json()["ok"]
    answer = await call(client, zalo, "POST", "/v2.0/article/create", json=article())
    assert answer["error"] == -223
    await call(client, zalo, "POST", "/v2.0/article/create", json=article(title="Có"))
    await client.post(zalo.base_url + "/_sandbox/expire_access_token", json={})
    assert (await call(client, zalo, "GET", "/v2.0/oa/getoa"))["error"] == -220
    state = (await client.get(zalo.base_url + "/_sandbox/state")).json()
    assert [a["title"] for a in state["articles"]] == ["Có"]
    assert state["broadcasts"] == []
    assert state["refresh_token"] == REFRESH
