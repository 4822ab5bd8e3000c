"""The Zalo Bot stand-in answers as documented; webhook mode verifies the secret header."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from syndicator.approval.zalo_bot.client import AuthError, ZaloBotClient, ZaloBotError
from syndicator.cli import main as cli_main
from syndicator.sandbox.zalo_bot import ZaloBotServer
from tests.zalo_bot.conftest import A_ID, A_NAME, ZDesk, article, wait_for


async def test_stand_in_errors_as_documented() -> None:
    """401 for a bad token, 408 when nothing arrives, text over 2,000 refused, webhook excludes polling."""
    async with ZaloBotServer() as server, httpx.AsyncClient() as http:
        bad = ZaloBotClient(http, "1:WRONG", server.base_url)
        with pytest.raises(AuthError):
            await bad.get_me()
        client = ZaloBotClient(http, server.token, server.base_url)
        me = await client.get_me()
        assert me["can_join_groups"] is False and me["account_name"]
        assert await client.get_update(timeout=1) is None  # 408 "Request timeout"
        raw = await http.post(client.url("getUpdates"), json={"timeout": "0"})
        assert raw.json() == {"ok": False, "error_code": 408, "description": "Request timeout"}
        server.inject_message(A_ID, "xin chào", name=A_NAME)
        update = await client.get_update(timeout=1)
        assert update is not None and update["event_name"] == "message.text.received"
        assert update["message"]["chat"] == {"id": A_ID, "chat_type": "PRIVATE"}
        assert await client.get_update(timeout=0) is None  # one update per call, then none
        assert await client.send_message(A_ID, "x" * 2000)
        with pytest.raises(ZaloBotError) as too_long:
            await client.send_message(A_ID, "x" * 2001)
        assert too_long.value.code == 400
        with pytest.raises(ZaloBotError):
            await client.send_photo(A_ID, "https://example.org/a.jpg", "c" * 2001)
        with pytest.raises(ZaloBotError):
            await client.set_webhook("https://example.org/hook", "short")
        await client.set_webhook("https://example.org/hook", "s3cret-token")
        assert (await client.get_webhook_info())["url"] == "https://example.org/hook"
        with pytest.raises(ZaloBotError) as conflict:
            await client.get_update(timeout=0)
        assert conflict.value.code == 409
        await client.delete_webhook()
        assert await client.get_update(timeout=0) is None


async def test_webhook_mode_handles_good_secret_refuses_wrong(zdesk: ZDesk) -> None:
    """Updates with the right X-Bot-Api-Secret-Token are handled; a wrong one gets 401 and nothing."""
    settings = zdesk.settings(webhook_url="http://127.0.0.1/zalo-hook", webhook_secret="s3cret-token",
                              webhook_listen="127.0.0.1:0")  # fmt: skip
    surface = await zdesk.surface(settings)
    receiver = surface._receiver
    assert receiver is not None and receiver.url
    # The stand-in must call the receiver where it really listens (port 0 picked a free one).
    zdesk.bot.bots[zdesk.bot.token].webhook_url = receiver.url
    code = zdesk.approver(A_NAME)
    zdesk.bot.inject_message(A_ID, f"lien ket {code}", name=A_NAME)
    await wait_for(lambda: any("Đã liên kết" in t for t in zdesk.texts(A_ID)))
    (aid,) = zdesk.add(article(9))
    await surface.tick(datetime.now(UTC))  # the preview A decides on (a decision is bound to it)
    async with httpx.AsyncClient() as http:
        forged = {"event_name": "message.text.received", "message": {
            "message_id": "forged-1", "text": f"duyệt {aid}", "chat": {"id": A_ID, "chat_type": "PRIVATE"},
            "from": {"id": A_ID, "display_name": A_NAME}}}  # fmt: skip
        wrong = await http.post(receiver.url, json=forged,
                                headers={"X-Bot-Api-Secret-Token": "not-the-secret"})  # fmt: skip
        missing = await http.post(receiver.url, json=forged)
    assert wrong.status_code == 401 and missing.status_code == 401 and receiver.refused == 2
    assert {p.status for p in zdesk.storage.list_posts(article_id=aid)} == {"pending"}
    zdesk.bot.inject_message(A_ID, f"duyệt {aid}", name=A_NAME)
    await wait_for(lambda: any("Đã duyệt" in t for t in zdesk.texts(A_ID)))
    assert {p.status for p in zdesk.storage.list_posts(article_id=aid)} == {"approved"}
    assert all(d["status"] == 200 for d in zdesk.bot.bots[zdesk.bot.token].deliveries)


def test_cli_approvers_add_list_remove(db_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """approvers add prints a code (json: approver, code), list shows links, remove unlinks."""
    config = tmp_path / "syndicator.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    base = ["--config", str(config), "approvers"]
    assert cli_main([*base, "add", "Lê Thị C", "--admin", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["approver"] == "Lê Thị C" and out["admin"] is True and len(out["code"]) == 9
    assert cli_main([*base, "add", "Lê Thị C"]) == 1  # the name is taken
    assert "already exists" in capsys.readouterr().err
    assert cli_main([*base, "add", "Phạm D", "--ttl", "nonsense"]) == 1
    capsys.readouterr()
    from syndicator.storage import open_storage

    storage = open_storage(db_url)
    try:
        outcome = storage.redeem_link_code(out["code"], surface="zalo_bot", user_id="77",
                                           chat_id="77", display_name="C",
                                           now=datetime.now(UTC))  # fmt: skip
        assert outcome.status == "linked"
        assert cli_main([*base, "list", "--format", "json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert listed[0]["identities"][0]["user_id"] == "77"
        assert cli_main([*base, "remove", "Lê Thị C"]) == 0
        assert storage.find_identity("zalo_bot", "77") is None
        assert cli_main([*base, "remove", "Lê Thị C"]) == 1
        kinds = {e.kind for e in storage.audit_events()}
        assert {"approver.added", "approver.code_issued", "approver.linked",
                "approver.removed"} <= kinds  # fmt: skip
        late = storage.redeem_link_code(out["code"], surface="zalo_bot", user_id="78", chat_id="78",
                                        display_name="X", now=datetime.now(UTC) + timedelta(1))  # fmt: skip
        assert late.status == "used"
    finally:
        storage.close()
