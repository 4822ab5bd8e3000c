"""`sửa N fb|zalo …` on a published article proposes a correction; `duyệt sửa N` edits the
live Graph post / Zalo article, `huỷ sửa N` drops it; strangers are refused."""

from __future__ import annotations

from datetime import UTC, datetime

from syndicator.types import PostStatus as S
from tests.zalo_bot.conftest import A_ID, A_NAME, B_ID, B_NAME, STRANGER, ZDesk, article

NEW = "Lịch tiếp công dân chuyển sang thứ Năm, ngày 20 (đã đính chính)."


async def test_correction_from_the_zalo_bot(zdesk: ZDesk) -> None:
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME)
    await zdesk.link(B_ID, B_NAME)
    (aid,) = zdesk.add(article(7))
    await surface.tick(datetime.now(UTC))
    assert "Đã duyệt" in await zdesk.ask(A_ID, f"duyệt {aid}")
    pub = zdesk.publisher(surface)
    for _ in range(3):
        await pub.run_once()
    assert {p.status for p in zdesk.storage.list_posts(article_id=aid)} == {S.PUBLISHED}
    (before,) = zdesk.zalo.live_articles()
    fb_before = [p.message for p in zdesk.graph.live_posts()]

    assert "không có đề xuất sửa" in await zdesk.ask(A_ID, f"duyệt sửa {aid}")
    proposed = await zdesk.ask(A_ID, f"sửa {aid} zalo {NEW}")
    assert "đề xuất sửa Zalo OA" in proposed and NEW in proposed and f"duyệt sửa {aid}" in proposed
    assert zdesk.zalo.live_articles()[0].description == before.description  # not yet

    refused = await zdesk.ask(STRANGER, f"duyet sua {aid}", "Người lạ")
    assert "không có quyền" in refused
    assert zdesk.zalo.live_articles()[0].description == before.description

    # B never saw A's proposal: it is shown to B first, and only then can B approve it.
    unseen = await zdesk.ask(B_ID, f"DUYỆT SỬA {aid}")
    assert "bản bạn chưa xem" in unseen and NEW in unseen
    assert zdesk.zalo.live_articles()[0].description == before.description
    done = await zdesk.ask(B_ID, f"DUYỆT SỬA {aid}")
    assert "Đã sửa bài đã đăng trên Zalo OA" in done
    (after,) = zdesk.zalo.live_articles()
    assert after.description == NEW and after.title == before.title

    # Facebook: the link is added back; then the proposal is cancelled and nothing changes.
    proposed = await zdesk.ask(A_ID, f"sua {aid} fb Bài đã được đính chính.")
    assert "Liên kết bài gốc đã được thêm lại" in proposed
    assert "bản bạn chưa xem" in await zdesk.ask(B_ID, f"huỷ sửa {aid} fb")
    assert "Đã huỷ đề xuất sửa Facebook" in await zdesk.ask(B_ID, f"huỷ sửa {aid} fb")
    assert [p.message for p in zdesk.graph.live_posts()] == fb_before
    assert "không có đề xuất sửa" in await zdesk.ask(B_ID, f"duyệt sửa {aid}")

    kinds = [e.kind for e in zdesk.storage.audit_events() if "correct" in e.kind]
    assert kinds == ["post.correction_proposed", "post.correction_approved", "post.corrected",
                     "post.correction_proposed", "post.correction_cancelled"]  # fmt: skip
    corrected = [e for e in zdesk.storage.audit_events() if e.kind == "post.corrected"]
    assert B_NAME in corrected[0].actor and '"via":"zalo_bot"' in corrected[0].data
    assert any(e.kind == "approval.refused" and STRANGER in e.actor
               for e in zdesk.storage.audit_events())  # fmt: skip
    assert zdesk.storage.verify_audit().ok


async def test_approving_a_replaced_proposal_is_refused(zdesk: ZDesk) -> None:
    """A proposes, B reads it; A proposes another text; B's `duyệt sửa` for the text B read is
    refused (nothing edited), B is shown the new one, and only the next `duyệt sửa` sends it."""
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME)
    await zdesk.link(B_ID, B_NAME)
    (aid,) = zdesk.add(article(8))
    await surface.tick(datetime.now(UTC))
    assert "Đã duyệt" in await zdesk.ask(A_ID, f"duyệt {aid}")
    pub = zdesk.publisher(surface)
    for _ in range(3):
        await pub.run_once()
    (before,) = zdesk.zalo.live_articles()
    first, second = "Bản sửa thứ nhất của mô tả.", "Bản sửa thứ hai, khác hẳn bản trước."

    assert first in await zdesk.ask(A_ID, f"sửa {aid} zalo {first}")
    assert first in await zdesk.ask(B_ID, f"duyệt sửa {aid}")  # shown to B, not approved
    assert second in await zdesk.ask(A_ID, f"sửa {aid} zalo {second}")  # replaces it

    replaced = await zdesk.ask(B_ID, f"duyệt sửa {aid}")
    assert "thay bằng bản khác" in replaced and second in replaced and A_NAME in replaced
    assert zdesk.zalo.live_articles()[0].description == before.description  # nothing sent
    assert "Đã sửa bài đã đăng trên Zalo OA" in await zdesk.ask(B_ID, f"duyệt sửa {aid}")
    assert zdesk.zalo.live_articles()[0].description == second
    assert "không có đề xuất sửa" in await zdesk.ask(A_ID, f"duyệt sửa {aid}")
    approved = [e for e in zdesk.storage.audit_events() if e.kind == "post.correction_approved"]
    assert len(approved) == 1 and B_NAME in approved[0].actor
    assert zdesk.storage.verify_audit().ok


async def test_approving_an_unseen_preview_is_refused(zdesk: ZDesk) -> None:
    """`duyệt N` from a chat that was not shown the preview in full decides nothing
    (audited approval.stale); the preview is sent, and then `duyệt N` approves it."""
    surface = await zdesk.surface()
    await zdesk.link(A_ID, A_NAME)
    (aid,) = zdesk.add(article(9))  # no tick yet: nothing shown to A
    refused = await zdesk.ask(A_ID, f"duyệt {aid}")
    assert "chưa nhận đủ bản xem trước" in refused
    assert {p.status for p in zdesk.storage.list_posts(article_id=aid)} == {S.PENDING}
    assert any(e.kind == "approval.stale" for e in zdesk.storage.audit_events())
    await surface.tick(datetime.now(UTC))
    assert any("chờ duyệt" in t for t in zdesk.texts(A_ID))
    assert "Đã duyệt" in await zdesk.ask(A_ID, f"duyệt {aid}")
