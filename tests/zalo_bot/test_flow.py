"""The Zalo approval surface end to end: the stand-in over real sockets, real storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syndicator.approval.zalo_bot.naming import revision_of
from syndicator.types import PostStatus as S
from tests.zalo_bot.conftest import A_ID, A_NAME, B_ID, B_NAME, STRANGER, ZDesk, article, wait_for


async def test_linking_good_wrong_reused_and_expired_codes(zdesk: ZDesk) -> None:
    """A good code links once; a wrong, reused or expired code is refused; all are audited."""
    await zdesk.surface()
    code = zdesk.approver(A_NAME, code="ABCD-EFGH")
    assert "Mã liên kết không đúng" in await zdesk.ask(A_ID, "/lienket ZZZZ-ZZZZ", A_NAME)
    assert "Đã liên kết" in await zdesk.ask(A_ID, f"/lienket {code.lower()}", A_NAME)
    assert "đã được dùng" in await zdesk.ask(B_ID, f"liên kết {code}", B_NAME)
    zdesk.approver(B_NAME, code="OLD1-CODE", ttl=timedelta(seconds=-1))
    assert "hết hạn" in await zdesk.ask(B_ID, "lien ket OLD1-CODE", B_NAME)
    ident = zdesk.storage.find_identity("zalo_bot", A_ID)
    assert ident is not None and ident.approver_name == A_NAME and ident.chat_id == A_ID
    assert zdesk.storage.find_identity("zalo_bot", B_ID) is None
    kinds = [e.kind for e in zdesk.storage.audit_events(kinds=[
        "approver.linked", "approver.link_refused"])]  # fmt: skip
    assert kinds.count("approver.linked") == 1 and kinds.count("approver.link_refused") == 3


async def test_preview_photo_split_at_words(zdesk: ZDesk) -> None:
    """A long article with an image: a photo with caption, then text parts, all ≤ 2,000."""
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME)
    long_summary = " ".join(["Thông báo về việc triển khai dịch vụ công trực tuyến"] * 120)
    (aid,) = zdesk.add(article(1, summary=long_summary, content_text=long_summary,
                               content_html=f"<p>{long_summary}</p>",
                               image_url="https://portal.example.gov.vn/anh.jpg"))  # fmt: skip
    await surface.tick(datetime.now(UTC))
    sent = zdesk.bot.bot_messages(A_ID)[1:]  # after the link confirmation
    assert sent[0]["photo"] == "https://portal.example.gov.vn/anh.jpg"
    assert f"Bài số {aid} chờ duyệt" in sent[0]["caption"]
    assert len(sent) >= 2 and all("text" in m for m in sent[1:])
    bodies = [m.get("caption") or m["text"] for m in sent]
    assert all(len(b) <= 2000 for b in bodies)
    for body in bodies[:-1]:  # every cut falls between words
        assert not body[-1].isspace() and body.rstrip()[-1:] != "-"
    joined = "\n".join(bodies)
    posts = zdesk.storage.list_posts(article_id=aid)
    assert "Facebook" in joined and "Zalo OA" in joined
    assert f"Mã phiên bản: {revision_of(posts)}" in joined
    await surface.tick(datetime.now(UTC))  # nothing is sent twice
    assert len(zdesk.bot.bot_messages(A_ID)) == len(sent) + 1


async def test_approve_without_diacritics_publishes_and_sends_links(zdesk: ZDesk) -> None:
    """`duyet N` decides with the approver's name; the other gets a note; links follow."""
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME)
    await zdesk.link(B_ID, B_NAME)
    (aid,) = zdesk.add(article(2))
    await surface.tick(datetime.now(UTC))
    answer = await zdesk.ask(A_ID, f"Duyet {aid}")
    assert f"Đã duyệt bài số {aid}" in answer and A_NAME in answer
    posts = zdesk.storage.list_posts(article_id=aid)
    assert {p.status for p in posts} == {S.APPROVED}
    assert all(p.decided_by == f"zalo_bot:{A_ID} {A_NAME}" for p in posts)
    later = await zdesk.ask(B_ID, f"duyệt {aid}")
    assert f"Đã được xử lý bởi {A_NAME} lúc" in later
    await surface.tick(datetime.now(UTC))
    assert any(f"đã được {A_NAME} duyệt" in t for t in zdesk.texts(B_ID))
    pub = zdesk.publisher(surface)
    for _ in range(4):
        await pub.run_once()
    await wait_for(lambda: any("đã đăng" in t for t in zdesk.texts(A_ID)))
    mine = next(t for t in zdesk.texts(A_ID) if "đã đăng" in t)
    assert "🔗 Facebook:" in mine and "🔗 Zalo OA:" in mine
    await wait_for(lambda: any(f"đã đăng ({A_NAME} duyệt)" in t for t in zdesk.texts(B_ID)))
    events = list(zdesk.storage.audit_events(kinds=["post.approved"]))
    assert events and all('"via":"zalo_bot"' in e.data for e in events)


async def test_reject_edit_schedule_with_and_without_diacritics(zdesk: ZDesk) -> None:
    """từ chối with a reason, SUA with new text (re-validated, new preview), hẹn giờ."""
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME)
    a1, a2, a3 = zdesk.add(article(3), article(4), article(5))
    await surface.tick(datetime.now(UTC))
    assert "Đã từ chối" in await zdesk.ask(A_ID, f"từ chối {a1} trùng nội dung")
    rejected = zdesk.storage.list_posts(article_id=a1)
    assert {p.status for p in rejected} == {S.REJECTED}
    assert rejected[0].reason == "trùng nội dung"
    too_long = await zdesk.ask(A_ID, f"SUA {a2} zalo " + "chữ " * 200)
    assert "vượt giới hạn" in too_long
    before = len(zdesk.bot.bot_messages(A_ID))
    saved = await zdesk.ask(A_ID, f"sửa {a2} fb Nội dung mới cho Facebook, có dấu đầy đủ.")
    assert "Đã lưu nội dung mới cho Facebook" in saved
    fb = next(p for p in zdesk.storage.list_posts(article_id=a2) if p.channel == "facebook")
    assert fb.edited and "Nội dung mới cho Facebook" in fb.payload["message"]
    await surface.tick(datetime.now(UTC))
    again = zdesk.texts(A_ID)[before + 1 :]
    assert any("đã được sửa" in t and "Nội dung mới cho Facebook" in t for t in again)
    assert "Không đọc được giờ" in await zdesk.ask(A_ID, f"hẹn {a3} 25:99")
    assert "Đã hẹn đăng" in await zdesk.ask(A_ID, f"hen {a3} 23:59")
    assert {p.status for p in zdesk.storage.list_posts(article_id=a3)} == {S.SCHEDULED}
    assert "Các lệnh" in await zdesk.ask(A_ID, "xin chào")
    assert "bài đang chờ duyệt" in await zdesk.ask(A_ID, "chờ")


async def test_stranger_refused_and_audited(zdesk: ZDesk) -> None:
    """Someone not linked cannot decide; the attempt is in the audit trail."""
    await zdesk.surface()
    (aid,) = zdesk.add(article(6))
    answer = await zdesk.ask(STRANGER, f"duyệt {aid}", "Người lạ")
    assert "không có quyền" in answer and "chưa được liên kết" in answer
    assert {p.status for p in zdesk.storage.list_posts(article_id=aid)} == {S.PENDING}
    refused = list(zdesk.storage.audit_events(kinds=["approval.refused"]))
    assert refused and refused[-1].actor.startswith(f"zalo_bot:{STRANGER}")
    assert "chưa được liên kết" in await zdesk.ask(STRANGER, "giúp")


async def test_stale_revision_refused(zdesk: ZDesk) -> None:
    """B saw the old text; after A's edit, B's `duyệt` is refused and B gets the new version."""
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME)
    await zdesk.link(B_ID, B_NAME)
    (aid,) = zdesk.add(article(7))
    await surface.tick(datetime.now(UTC))
    assert "Đã lưu" in await zdesk.ask(A_ID, f"sửa {aid} fb Bản đã sửa.")
    answer = await zdesk.ask(B_ID, f"duyệt {aid}")
    assert "đã thay đổi" in answer
    assert {p.status for p in zdesk.storage.list_posts(article_id=aid)} == {S.PENDING}
    await surface.tick(datetime.now(UTC))
    assert any("Bản đã sửa." in t for t in zdesk.texts(B_ID))
    assert "Đã duyệt" in await zdesk.ask(B_ID, f"duyệt {aid}")


async def test_restart_resumes_a_half_sent_preview(zdesk: ZDesk) -> None:
    """A failed part is retried by a restarted surface; parts already delivered are not resent."""
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME)
    long_summary = " ".join(["Kế hoạch phát triển kinh tế xã hội của tỉnh"] * 100)
    (aid,) = zdesk.add(article(8, summary=long_summary, content_text=long_summary))
    zdesk.bot.add_fault("error", "sendmessage", times=1, error_code=500,
                        description="Internal error")  # fmt: skip
    await surface.tick(datetime.now(UTC))
    (row,) = zdesk.storage.zalo_previews(article_id=aid)
    assert row.state == "sending" and row.parts_sent == 0 and row.attempts == 1
    await surface.stop()
    zdesk.surfaces.remove(surface)
    restarted = await zdesk.surface()
    await restarted.tick(datetime.now(UTC) + timedelta(minutes=5))
    (row,) = zdesk.storage.zalo_previews(article_id=aid)
    assert row.state == "open" and row.parts_sent == len(row.parts) >= 2
    previews = [t for t in zdesk.texts(A_ID) if f"bài số {aid}" in t.lower()]
    assert len(previews) == len(row.parts)  # each part exactly once
