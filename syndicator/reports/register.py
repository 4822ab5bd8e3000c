"""The publication register: one row per published, failed or rejected post, for inspectors.

Each row says which agency's article (portal URL, its content hash when it was approved), to
which channel, the hash of the exact payload sent, who decided and when, when it went live,
the platform's id and permalink, attempts and the last error. The export ends with the audit
head, so the register can later be checked against the trail (`audit verify --anchor`).

The content hash "at approval": when the article changed after the decision, the first
`article.changed` event after it holds the hash it had (`old_hash`); otherwise it is the
article's current hash.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from syndicator.errors import StorageError
from syndicator.reports.sql import AGENCY, Dialect
from syndicator.storage.models import UTCDateTime

if TYPE_CHECKING:
    from syndicator.storage import Storage

# A post taken down after publication stays on the register (status removing/removed): it
# was public, and the take-down's who and why are in the audit trail.
STATUSES = ("published", "failed", "needs_human", "rejected", "removing", "removed")
FIELDS = (
    "post_id", "status", "agency", "source", "portal_url", "article_content_hash", "channel",
    "payload_hash", "approver_id", "approver_name", "decided_at", "published_at",
    "platform_id", "permalink", "attempts", "last_error",
)  # fmt: skip
HEADERS_VI = {
    "post_id": "Mã bài đăng", "status": "Trạng thái", "agency": "Cơ quan", "source": "Nguồn",
    "portal_url": "Đường dẫn trên cổng", "article_content_hash": "Mã băm nội dung khi duyệt",
    "channel": "Kênh", "payload_hash": "Mã băm nội dung đã gửi",
    "approver_id": "Mã người duyệt", "approver_name": "Người duyệt",
    "decided_at": "Thời điểm quyết định", "published_at": "Thời điểm đăng",
    "platform_id": "Mã trên nền tảng", "permalink": "Liên kết bài đăng",
    "attempts": "Số lần gửi", "last_error": "Lỗi gần nhất",
}  # fmt: skip
_DECIDER = re.compile(r"^(?P<id>\S+?)(?: \((?P<name>.*)\))?$")


def split_decider(decided_by: str | None) -> tuple[str, str]:
    """ "telegram:111 (Nguyễn Văn A)" -> ("telegram:111", "Nguyễn Văn A"); "rule" -> ("rule", "")."""
    if not decided_by:
        return "", ""
    match = _DECIDER.match(decided_by)
    if not match:
        return decided_by, ""
    return match.group("id"), match.group("name") or ""


def register_rows(
    storage: Storage, start: datetime | None, end: datetime | None
) -> Iterator[dict[str, Any]]:
    """Stream the register in post id order (constant memory)."""
    d = Dialect(storage.engine.dialect.name)
    when = "COALESCE(p.published_at, p.decided_at, p.updated_at)"
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    sql = f"""
SELECT p.id, p.status, {AGENCY}, a.source_id, a.url,
  COALESCE((SELECT {d.json_text("x.data", "old_hash")} FROM audit_events x
            WHERE x.kind = 'article.changed' AND x.subject = 'article:' || a.id
              AND x.at > p.decided_at ORDER BY x.id LIMIT 1), a.content_hash),
  p.channel, p.payload_hash, p.decided_by, p.decided_at, p.published_at, p.external_id,
  p.permalink, p.attempts, p.last_error
FROM posts p JOIN articles a ON a.id = p.article_id
WHERE p.status IN ({statuses})
{f"AND {when} >= :s" if start else ""} {f"AND {when} < :e" if end else ""}
ORDER BY p.id
"""
    conv = UTCDateTime()
    stmt = text(sql)
    params: dict[str, datetime] = {}
    for name, value in (("s", start), ("e", end)):
        if value is not None:
            stmt = stmt.bindparams(bindparam(name, type_=UTCDateTime()))
            params[name] = value
    try:
        with storage.reader.connect() as conn, conn.begin():
            result = conn.execution_options(yield_per=1000).execute(stmt, params)
            for row in result:
                approver_id, approver_name = split_decider(row[8])
                yield dict(
                    zip(
                        FIELDS,
                        [*row[:8], approver_id, approver_name,
                         _iso(row[9], conv, conn), _iso(row[10], conv, conn), *row[11:]],
                        strict=True,
                    )
                )  # fmt: skip
    except SQLAlchemyError as exc:
        raise StorageError(f"register export failed: {exc}") from exc


def _iso(value: Any, conv: UTCDateTime, conn: Any) -> str | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    parsed = conv.process_result_value(value, conn.dialect)
    return parsed.astimezone(UTC).isoformat() if parsed else None


def export_csv(
    rows: Iterator[dict[str, Any]], head: tuple[int, str] | None, *, vietnamese: bool = False
) -> Iterator[str]:
    """UTF-8 with a BOM (Excel then reads the diacritics right); the head is the last row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return chunk

    writer.writerow([HEADERS_VI[f] for f in FIELDS] if vietnamese else FIELDS)
    yield "\ufeff" + flush()
    for row in rows:
        writer.writerow(["" if row[f] is None else row[f] for f in FIELDS])
        yield flush()
    label = "Đầu chuỗi nhật ký (audit_head)" if vietnamese else "audit_head"
    writer.writerow([label, f"{head[0]}:{head[1]}" if head else "0:"])
    yield flush()


def export_jsonl(rows: Iterator[dict[str, Any]], head: tuple[int, str] | None) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"
    anchor = {"id": head[0], "hash": head[1]} if head else {"id": 0, "hash": None}
    yield json.dumps({"audit_head": anchor}) + "\n"
