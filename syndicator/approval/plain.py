"""Plain Vietnamese for the errors staff can see: one short sentence per class of error.

Why: editors read previews, /status and the Zalo bot; a raw "timeout: ConnectTimeout" or
"(#100) Invalid parameter" tells them nothing and reads as a bug. The technical text stays in
the log (and in the database, `posts.last_error` / `source_state.last_error`); admins get the
sentence followed by the detail (`for_admins`), editors the sentence alone.

Pure functions over the stored strings: the post's `error_class` (decided in
publishing/lifecycle.py `outcome_for`, plus "remove" from publishing/aftercare.py) and the
source error text, whose head before the first ":" names its class (sources/fetch.py,
sources/htmlpage.py, poller.py; the same split poller.py `_log_failure` logs).
"""

from __future__ import annotations

import re

# -- posts: publishing/lifecycle.py outcome_for() and publishing/aftercare.py ------------------
POST_ERRORS = {
    "temporary": "Kênh đăng tạm thời không phản hồi; hệ thống sẽ tự thử lại sau ít phút.",
    "throttled": "Kênh đăng yêu cầu gửi chậm lại; hệ thống sẽ tự đăng khi được phép.",
    "blocked": (
        "Facebook đang tạm khóa việc đăng bài của Trang; hệ thống chờ hết thời gian khóa rồi "
        "đăng tiếp."
    ),
    "credentials": (
        "Quyền đăng bài của kênh đã hết hạn hoặc bị thu hồi; cán bộ quản trị cần cấp lại quyền."
    ),
    "ambiguous": (
        "Chưa rõ bài đã lên kênh hay chưa (kênh không trả lời kịp); hệ thống đang kiểm tra lại "
        "để không đăng trùng."
    ),
    "duplicate": (
        "Kênh báo bài này trùng với một bài đã có; hệ thống đang tìm bài đã đăng để không đăng "
        "hai lần."
    ),
    "unverified": (
        "Kênh đã nhận bài nhưng chưa xác nhận đã đăng; cán bộ quản trị cần xem trên kênh."
    ),
    "unresolved": (
        "Không kiểm tra được bài đã lên kênh hay chưa; cán bộ quản trị cần xem trên kênh rồi "
        "quyết định đăng lại."
    ),
    "permanent": (
        "Kênh từ chối bài đăng (nội dung hoặc ảnh không hợp lệ); thử lại sẽ không khác, cần "
        "cán bộ quản trị xem."
    ),
    "remove": "Chưa gỡ được bài khỏi kênh; hệ thống sẽ tự thử lại.",
}
POST_UNKNOWN = "Đăng bài không thành công; cán bộ quản trị xem chi tiết trong nhật ký hoạt động."

# -- sources: the head of the error text (sources/fetch.py, htmlpage.py, poller.py) ------------
SOURCE_TIMEOUT = "Cổng thông tin không phản hồi kịp (quá thời gian chờ)."
SOURCE_DEADLINE = "Cổng thông tin trả lời quá chậm, không lấy xong tin trong thời gian cho phép."
SOURCE_CONNECT = "Không kết nối được tới cổng thông tin (mạng hoặc máy chủ của cổng đang lỗi)."
SOURCE_NOT_FOUND = "Địa chỉ nguồn tin không còn tồn tại trên cổng thông tin (lỗi {code})."
SOURCE_FORBIDDEN = "Cổng thông tin từ chối cho lấy tin (lỗi {code})."
SOURCE_SERVER = "Máy chủ của cổng thông tin đang gặp lỗi (lỗi {code})."
SOURCE_HTTP = "Cổng thông tin trả về lỗi {code}."
SOURCE_NOT_FEED = "Địa chỉ nguồn tin không trả về bản tin RSS/Atom (có thể cổng đã đổi địa chỉ)."
SOURCE_PARSE = "Bản tin của cổng thông tin bị lỗi định dạng, không đọc được."
SOURCE_TOO_BIG = "Bản tin của cổng thông tin quá lớn so với giới hạn cho phép."
SOURCE_COMPRESSION = "Cổng thông tin gửi dữ liệu nén không đúng chuẩn, không đọc được."
SOURCE_URL = "Địa chỉ nguồn tin trong cấu hình không hợp lệ."
SOURCE_INGEST = "Hệ thống không lưu được tin của nguồn này (lỗi nội bộ, đã ghi vào nhật ký)."
SOURCE_ENTRY = "Một số tin trong bản tin bị lỗi và đã được bỏ qua."
SOURCE_UNKNOWN = "Không lấy được tin từ cổng thông tin."

DETAIL = "{sentence} (Chi tiết kỹ thuật: {detail})"
_HTTP = re.compile(r"HTTP (\d{3})")
# httpx.TransportError subclasses that mean "no connection": httpx's exception hierarchy
# (https://www.python-httpx.org/exceptions/).
_CONNECT = ("ConnectError", "ReadError", "WriteError", "RemoteProtocolError", "NetworkError",
            "ProxyError", "LocalProtocolError", "ConnectionError", "OSError")  # fmt: skip


def post_error(error_class: str | None) -> str:
    """The sentence for a post's `error_class` (None or unknown: a general sentence)."""
    return POST_ERRORS.get(error_class or "", POST_UNKNOWN)


def source_error(error: str | None) -> str:
    """The sentence for a source's last error, chosen by the text's leading class."""
    text = (error or "").strip()
    head = text.split(":", 1)[0].strip()
    lower = text.lower()
    if head == "timeout" or head.endswith("Timeout"):
        return SOURCE_TIMEOUT
    if head == "deadline":
        return SOURCE_DEADLINE
    match = _HTTP.match(text)
    if match:
        code = int(match.group(1))
        template = (
            SOURCE_NOT_FOUND if code in (404, 410)
            else SOURCE_FORBIDDEN if code in (401, 403, 451)
            else SOURCE_SERVER if code >= 500 else SOURCE_HTTP
        )  # fmt: skip
        return template.format(code=code)
    if head == "not a feed":
        return SOURCE_NOT_FEED
    if head == "parse":
        return SOURCE_PARSE
    if "content-encoding" in lower or "body ends before" in lower or head.startswith("broken "):
        return SOURCE_COMPRESSION
    if lower.startswith("response larger than"):
        return SOURCE_TOO_BIG
    if head == "invalid URL":
        return SOURCE_URL
    if head == "ingest failed":
        return SOURCE_INGEST
    if head.startswith("entry "):
        return SOURCE_ENTRY
    if head in _CONNECT:
        return SOURCE_CONNECT
    return SOURCE_UNKNOWN


def for_admins(sentence: str, detail: str | None, limit: int = 300) -> str:
    """The sentence, then the technical text, for the admin chat only (cut at a word)."""
    detail = " ".join((detail or "").split())
    if not detail:
        return sentence
    if len(detail) > limit:
        cut = detail[: limit - 1]
        space = cut.rfind(" ")
        detail = (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"
    return DETAIL.format(sentence=sentence, detail=detail)
