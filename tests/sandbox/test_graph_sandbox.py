"""The Graph stand-in, driven over real sockets with httpx."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from syndicator.sandbox import GraphServer

PAGE = "1000000001"
OTHER_PAGE = "1000000002"
TOKEN = "PAGE_TOKEN"
V = "/v23.0"


@pytest.fixture
async def graph():
    server = GraphServer({PAGE: [TOKEN], OTHER_PAGE: ["OTHER_TOKEN"]})
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(graph):
    async with httpx.AsyncClient(base_url=graph.base_url, timeout=5) as http:
        yield http


async def post_feed(client, message="Tin mới", token=TOKEN, **extra):
    return await client.post(
        f"{V}/{PAGE}/feed", data={"message": message, "access_token": token, **extra}
    )


async def test_feed_post_then_read_it_back(client):
    """A link post returns {page}_{n} and reading it gives the documented fields."""
    created = await post_feed(client, link="https://portal.example/a/1")
    assert created.status_code == 200
    post_id = created.json()["id"]
    assert post_id == f"{PAGE}_1"
    fields = "id,message,created_time,permalink_url,is_published,attachments{unshimmed_url,url}"
    read = await client.get(f"{V}/{post_id}", params={"fields": fields, "access_token": TOKEN})
    body = read.json()
    assert body["message"] == "Tin mới"
    [attachment] = body["attachments"]["data"]
    assert attachment["unshimmed_url"] == "https://portal.example/a/1"
    assert attachment["url"].startswith("https://l.facebook.com/l.php?u=https%3A%2F%2Fportal")
    assert body["is_published"] is True
    assert body["permalink_url"] == f"https://www.facebook.com/{PAGE}/posts/1"
    assert body["created_time"].endswith("+0000")


async def test_usage_headers_are_json_strings(client):
    """Every answer carries X-App-Usage and X-Business-Use-Case-Usage as JSON."""
    response = await post_feed(client)
    app_usage = json.loads(response.headers["X-App-Usage"])
    assert set(app_usage) == {"call_count", "total_time", "total_cputime"}
    buc = json.loads(response.headers["X-Business-Use-Case-Usage"])
    assert buc[PAGE][0]["type"] == "pages"
    assert buc[PAGE][0]["estimated_time_to_regain_access"] == 0


async def test_photo_upload_multipart_and_by_url(client, graph):
    """Photos are accepted as a multipart file or a URL and return id plus post_id."""
    upload = await client.post(
        f"{V}/{PAGE}/photos",
        data={"caption": "Ảnh", "access_token": TOKEN},
        files={"source": ("a.jpg", b"\xff\xd8jpeg", "image/jpeg")},
    )
    assert upload.json()["id"].isdigit()
    assert upload.json()["post_id"] == f"{PAGE}_1"
    by_url = await client.post(
        f"{V}/{PAGE}/photos",
        data={"url": "https://portal.example/a.jpg", "caption": "Ảnh 2", "access_token": TOKEN},
    )
    assert by_url.json()["post_id"] == f"{PAGE}_2"
    hidden = await client.post(
        f"{V}/{PAGE}/photos",
        data={"url": "https://portal.example/b.jpg", "published": "false", "access_token": TOKEN},
    )
    assert "post_id" not in hidden.json()
    assert graph.posts[f"{PAGE}_1"].image == "a.jpg (6 bytes)"


async def test_photo_without_image_is_324(client):
    """A photo call with neither url nor source fails with code 324."""
    response = await client.post(f"{V}/{PAGE}/photos", data={"access_token": TOKEN})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 324


@pytest.mark.parametrize(
    ("token", "code", "subcode"),
    [("nope", 190, 467), (None, 104, None), ("OTHER_TOKEN", 200, None)],
)
async def test_token_rules(client, token, code, subcode):
    """Unknown, missing and wrong-page tokens get the documented error codes."""
    data = {"message": "x"} | ({"access_token": token} if token else {})
    response = await client.post(f"{V}/{PAGE}/feed", data=data)
    error = response.json()["error"]
    assert response.status_code == 400
    assert (error["code"], error.get("error_subcode")) == (code, subcode)
    assert error["type"] == "OAuthException"
    assert error["fbtrace_id"]


async def test_expired_and_revoked_tokens(client, graph):
    """An expired token answers 190/463 and a revoked one 190/460."""
    graph.expire_token(TOKEN)
    assert (await post_feed(client)).json()["error"]["error_subcode"] == 463
    graph.revoke_token("OTHER_TOKEN")
    response = await client.get(f"{V}/{OTHER_PAGE}", params={"access_token": "OTHER_TOKEN"})
    assert response.json()["error"]["error_subcode"] == 460


async def test_bearer_header_and_query_token(client):
    """The token is accepted from an Authorization header and from the query string."""
    by_header = await client.post(
        f"{V}/{PAGE}/feed", data={"message": "a"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert by_header.status_code == 200
    by_query = await client.post(
        f"{V}/{PAGE}/feed", params={"access_token": TOKEN}, data={"message": "b"}
    )
    assert by_query.status_code == 200


async def test_any_version_is_accepted(client):
    """Any vNN.N prefix routes; a path without a version is an error 100."""
    assert (await client.get(f"/v99.0/{PAGE}", params={"access_token": TOKEN})).status_code == 200
    missing = await client.get(f"/{PAGE}", params={"access_token": TOKEN})
    assert missing.json()["error"]["code"] == 100


async def test_identical_consecutive_message_is_506(client):
    """Posting the same message twice in a row fails with 506; a different one passes."""
    assert (await post_feed(client, "Giống nhau")).status_code == 200
    duplicate = await post_feed(client, "Giống nhau")
    assert duplicate.json()["error"]["code"] == 506
    assert (await post_feed(client, "Khác")).status_code == 200


async def test_blocked_link_is_1609005(client, graph):
    """A link on the blocklist fails with 1609005 and creates nothing."""
    graph.block_link("https://portal.example/down")
    response = await post_feed(client, link="https://portal.example/down")
    assert response.json()["error"]["code"] == 1609005
    assert graph.posts == {}


async def test_listing_with_since_limit_and_cursors(client, graph):
    """published_posts is newest first, honours since and pages with cursors."""
    clock = iter([1000.0, 2000.0, 3000.0])
    graph.clock = lambda: next(clock)
    for text in ("một", "hai", "ba"):
        await post_feed(client, text)
    params = {"access_token": TOKEN, "fields": "id,message", "limit": 1, "since": 1500}
    first = (await client.get(f"{V}/{PAGE}/published_posts", params=params)).json()
    assert [p["message"] for p in first["data"]] == ["ba"]
    second = (await client.get(first["paging"]["next"] + f"&access_token={TOKEN}")).json()
    assert [p["message"] for p in second["data"]] == ["hai"]
    assert "next" not in second["paging"]
    for edge in ("posts", "feed"):
        everything = await client.get(f"{V}/{PAGE}/{edge}", params={"access_token": TOKEN})
        assert len(everything.json()["data"]) == 3


async def test_listing_limit_above_100_is_rejected(client):
    """limit over 100 is an error 100 rather than a silent clamp."""
    params = {"access_token": TOKEN, "limit": 101}
    response = await client.get(f"{V}/{PAGE}/published_posts", params=params)
    assert response.json()["error"]["code"] == 100


async def test_delete_then_read_is_100_33(client):
    """A deleted post is gone: reading it gives 100 with subcode 33."""
    post_id = (await post_feed(client)).json()["id"]
    deleted = await client.delete(f"{V}/{post_id}", params={"access_token": TOKEN})
    assert deleted.json() == {"success": True}
    read = await client.get(f"{V}/{post_id}", params={"access_token": TOKEN})
    assert (read.json()["error"]["code"], read.json()["error"]["error_subcode"]) == (100, 33)


async def test_debug_token_accounts_and_page(client, graph):
    """debug_token, me/accounts and the page object answer in the documented shapes."""
    params = {"input_token": TOKEN, "access_token": "app|secret"}
    data = (await client.get(f"{V}/debug_token", params=params)).json()["data"]
    assert (data["is_valid"], data["type"], data["expires_at"]) == (True, "PAGE", 0)
    assert "pages_manage_posts" in data["scopes"]
    graph.expire_token(TOKEN)
    data = (await client.get(f"{V}/debug_token", params=params)).json()["data"]
    assert data["is_valid"] is False
    assert data["expires_at"] > 0
    accounts = await client.get(f"{V}/me/accounts", params={"access_token": "USER_TOKEN"})
    assert {page["id"] for page in accounts.json()["data"]} == {PAGE, OTHER_PAGE}
    page = await client.get(f"{V}/{OTHER_PAGE}", params={"access_token": "OTHER_TOKEN"})
    assert page.json()["id"] == OTHER_PAGE


@pytest.mark.parametrize(
    ("code", "subcode", "status", "transient"),
    [
        (1, None, 500, True),
        (2, None, 500, True),
        (4, None, 400, True),
        (17, None, 400, True),
        (32, None, 400, True),
        (80001, None, 400, True),
        (613, 1996, 400, True),
        (368, None, 400, False),
        (190, 463, 400, False),
        (100, None, 400, False),
        (1609005, None, 400, False),
        (10, None, 400, False),
        (200, None, 400, False),
    ],
)
async def test_injected_error_codes(client, graph, code, subcode, status, transient):
    """Each injectable code answers with its status, envelope and is_transient flag."""
    graph.add_fault("error", scope="publish", code=code)
    response = await post_feed(client)
    error = response.json()["error"]
    assert response.status_code == status
    assert (error["code"], error.get("error_subcode")) == (code, subcode)
    assert error.get("is_transient", False) is transient
    assert graph.posts == {}
    assert (await post_feed(client)).status_code == 200


async def test_throttle_reports_regain_time_once(client, graph):
    """A throttle fault reports 100% and the regain minutes, then usage goes back to normal."""
    graph.add_fault("error", scope="publish", code=80001, estimated_time_to_regain_access=7)
    throttled = await post_feed(client)
    buc = json.loads(throttled.headers["X-Business-Use-Case-Usage"])[PAGE][0]
    assert (buc["call_count"], buc["estimated_time_to_regain_access"]) == (100, 7)
    after = await post_feed(client)
    buc = json.loads(after.headers["X-Business-Use-Case-Usage"])[PAGE][0]
    assert buc["estimated_time_to_regain_access"] == 0


async def test_faults_respect_their_scope(client, graph):
    """A publish fault does not hit reads, and a read fault does not hit publishing."""
    graph.add_fault("error", scope="read", code=2)
    assert (await post_feed(client)).status_code == 200
    read = await client.get(f"{V}/{PAGE}_1", params={"access_token": TOKEN})
    assert read.status_code == 500


async def test_accept_then_hang_creates_the_post(client, graph):
    """The post exists although the client timed out, so reconciliation can find it."""
    graph.add_fault("accept_then_hang", scope="publish", hold=5)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(
            f"{V}/{PAGE}/feed",
            data={"message": "treo", "link": "https://portal.example/a/9", "access_token": TOKEN},
            timeout=0.3,
        )
    params = {"access_token": TOKEN, "fields": "id,attachments{unshimmed_url}"}
    listed = (await client.get(f"{V}/{PAGE}/published_posts", params=params)).json()
    [item] = listed["data"]
    assert item["id"] == f"{PAGE}_1"
    assert item["attachments"]["data"] == [{"unshimmed_url": "https://portal.example/a/9"}]


async def test_drop_and_http500(client, graph):
    """drop commits then resets the connection; http500_no_body commits nothing."""
    graph.add_fault("drop", scope="publish")
    with pytest.raises(httpx.RemoteProtocolError):
        await post_feed(client, "rơi")
    assert [post.message for post in graph.live_posts()] == ["rơi"]
    graph.add_fault("http500_no_body", scope="publish")
    response = await post_feed(client, "lỗi")
    assert (response.status_code, response.content) == (500, b"")
    assert len(graph.live_posts()) == 1


async def test_slow_fault_delays_the_answer(client, graph):
    """A slow fault waits the given delay and then answers normally."""
    graph.add_fault("slow", scope="publish", delay=0.3)
    started = time.monotonic()
    assert (await post_feed(client)).status_code == 200
    assert time.monotonic() - started >= 0.3


async def test_http_control_and_state_endpoints(client):
    """Faults and token changes can be driven over HTTP, and the state endpoint lists posts."""
    fault = {"kind": "error", "scope": "publish", "code": 17, "times": 2}
    assert (await client.post("/_sandbox/faults", json=fault)).json()["ok"] is True
    assert (await post_feed(client, "a")).json()["error"]["code"] == 17
    assert (await post_feed(client, "b")).json()["error"]["code"] == 17
    assert (await post_feed(client, "c")).status_code == 200
    await client.post("/_sandbox/expire_token", json={"token": TOKEN})
    assert (await post_feed(client, "d")).json()["error"]["error_subcode"] == 463
    state = (await client.get("/_sandbox/state")).json()
    assert [post["message"] for post in state["posts"]] == ["c"]
    bad = await client.post("/_sandbox/faults", json={"nope": 1})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Content-Type": "text/plain"}, '{"kind": "error", "code": 2}', 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "kind=error&code=2", 415),
        ({"Origin": "https://evil.example"}, None, 403),
        ({"Sec-Fetch-Site": "cross-site"}, None, 403),
    ],
)
async def test_control_routes_refuse_what_a_web_page_could_send(
    client, graph, headers, body, status
):
    """A page on another site cannot queue faults or press buttons through a simple POST."""
    if body is None:
        response = await client.post(
            "/_sandbox/faults", json={"kind": "error", "code": 2}, headers=headers
        )
    else:
        response = await client.post("/_sandbox/faults", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["ok"] is False
    assert graph.faults.pending() == []
    same_origin = {"Origin": str(client.base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"}
    ok = await client.post("/_sandbox/clear_faults", json={}, headers=same_origin)
    assert ok.json()["ok"] is True


@pytest.mark.parametrize("field", ["link", "caption", "description", "name", "object_id", "type"])
async def test_deprecated_post_fields_fail_the_whole_read(client, field):
    """Since v3.3 Graph answers (#12) for the aggregated attachment fields (restfb#990)."""
    await post_feed(client, link="https://portal.example/a/1")
    params = {"access_token": TOKEN, "fields": f"id,message,{field}"}
    response = await client.get(f"{V}/{PAGE}/published_posts", params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 12 and "deprecate_post_aggregated_fields" in error["message"]


async def test_error_with_commit_creates_then_answers_500(client, graph):
    """The reported Graph fault: the post is created and the answer is still code 2 / 500."""
    graph.add_fault("error", scope="publish", code=2, commit=True)
    response = await post_feed(client, link="https://portal.example/a/2")
    assert response.status_code == 500 and response.json()["error"]["code"] == 2
    assert [post.link for post in graph.live_posts(PAGE)] == ["https://portal.example/a/2"]
