"""Everything the Zalo bot says to staff (Vietnamese, with diacritics)."""

from __future__ import annotations

HELP = (
    "Các lệnh (có dấu hay không dấu đều được):\n"
    "• duyệt 12 — duyệt bài số 12 cho mọi kênh; duyệt 12 fb / duyệt 12 zalo — một kênh\n"
    "• từ chối 12 [lý do]\n"
    "• sửa 12 fb <nội dung mới> — thay nội dung đăng Facebook (zalo: phần mô tả Zalo OA); "
    "với bài đã đăng, đây là đề xuất sửa: duyệt sửa 12 để đăng bản sửa, huỷ sửa 12 để bỏ\n"
    "• hẹn 12 15:30 [24/11] — hẹn giờ đăng\n"
    "• chờ — các bài đang chờ duyệt\n"
    "• trạng thái — tình trạng hệ thống\n"
    "• báo cáo [tuần|tháng|quý] — tóm tắt báo cáo kỳ trước\n"
    "• cập nhật 12 / duyệt cập nhật 12 / gỡ 12 lý do / bỏ qua 12 — xử lý thông báo bài đã đăng "
    "bị sửa hoặc gỡ trên cổng\n"
    "• lien ket MÃ — liên kết tài khoản Zalo với người duyệt (chỉ làm một lần)"
)
UNKNOWN = "Không hiểu lệnh «{text}». " + "Gõ «giúp» để xem các lệnh, ví dụ: duyệt 12, từ chối 12."
NOT_LINKED = (
    "Tài khoản Zalo này chưa được liên kết với người duyệt nào. "
    "Hãy xin mã liên kết từ cán bộ quản trị rồi gửi: lien ket MÃ"
)
REFUSED = "⛔ Bạn không có quyền duyệt bài. Yêu cầu đã được ghi lại."
LINKED = (
    "✅ Đã liên kết tài khoản Zalo với người duyệt «{name}». Từ nay bài chờ duyệt sẽ gửi tới đây."
)
LINK_REFUSED = {
    "wrong": "❌ Mã liên kết không đúng. Kiểm tra lại mã (không phân biệt chữ hoa, chữ thường).",
    "used": "❌ Mã liên kết này đã được dùng. Mỗi mã chỉ dùng một lần; hãy xin mã mới.",
    "expired": "❌ Mã liên kết đã hết hạn. Hãy xin cán bộ quản trị cấp mã mới.",
    "removed": "❌ Người duyệt gắn với mã này đã bị gỡ khỏi danh sách.",
}

HEADER = "📰 Bài số {number} chờ duyệt"
HEADER_URGENT = "🔴 KHẨN — bài số {number} chờ duyệt"
HEADER_AGAIN = "✏️ Bài số {number} đã được sửa — bản mới nhất"
CHANNEL = "▶ {label}: sẽ đăng nội dung sau"
IMAGE = "Ảnh: {url}"
HOW_TO = (
    "Trả lời: «duyệt {n}», «duyệt {n} fb», «từ chối {n} lý do», «sửa {n} fb nội dung», "
    "«hẹn {n} 15:30»"
)
REVISION = "Mã phiên bản: {revision}"
PART = "(tiếp theo — bài số {number}, phần {part}/{total})"

DONE = {
    "approve": "✅ Đã duyệt bài số {n} ({channels}) — {who}, {when}. Bài sẽ được đăng.",
    "reject": "❌ Đã từ chối bài số {n} ({channels}) — {who}, {when}.",
    "schedule": "🕒 Đã hẹn đăng bài số {n} ({channels}) lúc {at} — {who}, {when}.",
    "edit": "✏️ Đã lưu nội dung mới cho {channels} của bài số {n} — {who}, {when}.",
    "skip": "⏸ Đã bỏ kênh {channels} của bài số {n} — {who}, {when}.",
    "unskip": "▶ Đã bật lại kênh {channels} của bài số {n} — {who}, {when}.",
    "retry": "🔁 Đã cho đăng lại bài số {n} ({channels}) — {who}, {when}.",
}
VERBS = {"approved": "duyệt", "scheduled": "hẹn giờ", "rejected": "từ chối",
         "expired": "để hết hạn", "publishing": "duyệt", "published": "duyệt",
         "failed": "duyệt", "needs_human": "duyệt"}  # fmt: skip
ALREADY = "ℹ️ Bài số {n} đã được {who} {verb} lúc {when}."
ALREADY_PLAIN = "ℹ️ Bài số {n} không còn chờ duyệt."
STALE = (
    "⚠️ Nội dung bài số {n} đã thay đổi kể từ bản bạn xem. Không có gì được duyệt; "
    "bản mới nhất được gửi lại ngay sau đây."
)
NOT_SEEN = (
    "⚠️ Bạn chưa nhận đủ bản xem trước mới nhất của bài số {n}. Không có gì được thực hiện; "
    "bản xem trước được gửi ngay sau đây."
)
NO_ARTICLE = "❌ Không có bài số {n} đang chờ duyệt."
NO_CHANNEL = "❌ Bài số {n} không có kênh {label}."
EDIT_ONE_CHANNEL = "❌ Hãy nói rõ kênh cần sửa: «sửa {n} fb …» hoặc «sửa {n} zalo …»."
EDIT_NOT_SUPPORTED = "❌ Chưa hỗ trợ sửa nội dung kênh {label}."
EDIT_EMPTY = "❌ Nội dung mới đang trống; không có gì được lưu."
EDIT_TOO_LONG = "❌ Nội dung dài {length} ký tự, vượt giới hạn {limit} ký tự của {label}. Chưa lưu."
TIME_INVALID = "❌ Không đọc được giờ «{text}». Ví dụ: hẹn 12 15:30 hoặc hẹn 12 15:30 24/11."
TIME_PAST = "❌ Thời điểm {when} đã qua."
ADMIN_ONLY = "⛔ Chỉ quản trị viên được cho đăng lại."

DECIDED_NOTE = "ℹ️ Bài số {n} đã được {who} {verb} lúc {when}. Không cần làm gì thêm."
PUBLISHED_MINE = "📣 Bài số {n} đã đăng:\n{links}"
PUBLISHED_NOTE = "📣 Bài số {n} đã đăng ({who} duyệt):\n{links}"
FAILED_NOTE = "⚠️ Bài số {n}: {label} chưa đăng được — {error}"
LINK_LINE = "🔗 {label}: {url}"
LINK_NO_URL = "🔗 {label}: đã đăng (mã {external_id})"

WAITING_NONE = "Không có bài nào đang chờ duyệt."
WAITING_HEAD = "⏳ {count} bài đang chờ duyệt:"
WAITING_LINE = "• số {n}: {title}"
STATUS = "📊 Trạng thái:\n{lines}"
STATUS_LINE = "• {label}: {counts}"
STATUS_NONE = "Chưa có bài nào."
STATUS_NAMES = {"pending": "chờ duyệt", "held": "bị giữ", "skipped": "bỏ kênh",
                "approved": "đã duyệt", "scheduled": "hẹn giờ", "publishing": "đang đăng",
                "published": "đã đăng", "failed": "lỗi", "needs_human": "cần kiểm tra",
                "rejected": "từ chối", "expired": "hết hạn"}  # fmt: skip
SYSTEM = "hệ thống"
RULE = "quy tắc tự duyệt"

# Reminders (approval/zalo_bot/duties.py): one per preview, after remind_after.
REMINDER = (
    "⏰ Bài số {n} đang chờ duyệt đã {age}: {title}\nTrả lời «duyệt {n}» hoặc «từ chối {n} lý do»."
)
REMINDER_URGENT = (
    "🔴⏰ Bài KHẨN số {n} đang chờ duyệt đã {age}: {title}\n"
    "Trả lời «duyệt {n}» hoặc «từ chối {n} lý do»."
)
ALERT = "🛠 Cảnh báo cho quản trị viên:\n{text}"
FIX_PROPOSED = (
    "{message}\n\nBản sửa {label}:\n{text}\n\n"
    "Gửi «duyệt sửa {n}» để sửa bài đã đăng, hoặc «huỷ sửa {n}» để bỏ đề xuất."
)
FIX_NONE = "Bài #{n} không có đề xuất sửa nào đang chờ duyệt."

# Reports (approval/zalo_bot/reports.py): the summary text is approval/report_cmd.summary.
REPORT_USAGE = (
    "Cách dùng: «báo cáo» (tuần trước), «báo cáo tháng» hoặc «báo cáo quý» (kỳ trọn vẹn gần nhất)."
)
REPORT_FAILED = "❌ Không lập được báo cáo lúc này ({error}). Hãy thử lại sau ít phút."

# Change-watch alerts (approval/zalo_bot/watch.py); the alert itself is approval/watch_core.py.
WATCH_HOW = (
    "Trả lời: «cập nhật {n}» (xem bản đăng mới rồi duyệt), «gỡ {n} lý do» (gỡ bài đã đăng, "
    "quản trị viên), «bỏ qua {n}» (giữ nguyên)."
)
WATCH_HOW_WITHDRAWN = (
    "Trả lời: «gỡ {n} lý do» (gỡ bài đã đăng, quản trị viên) hoặc «bỏ qua {n}» (giữ nguyên)."
)
WATCH_HANDLED = "ℹ️ Thông báo thay đổi của bài số {n} đã được xử lý; không còn gì để làm."
WATCH_STALE = (
    "⚠️ Bài số {n} trên cổng đã thay đổi kể từ thông báo bạn xem. Không có gì được thực hiện; "
    "thông báo mới nhất ở dưới đây."
)
WATCH_NOT_SEEN = (
    "⚠️ Bạn chưa nhận thông báo thay đổi mới nhất của bài số {n}. Không có gì được thực hiện; "
    "thông báo ở dưới đây."
)
WATCH_NOTHING_TO_UPDATE = (
    "❌ Bài số {n} đã bị gỡ khỏi cổng nên không có nội dung mới để cập nhật. "
    "Gửi «gỡ {n} lý do» để gỡ bài đã đăng, hoặc «bỏ qua {n}»."
)
WATCH_CONFIRM_HOW = (
    "Gửi «duyệt cập nhật {n}» để sửa các bài đã đăng theo nội dung trên, hoặc «bỏ qua {n}»."
)
WATCH_UPDATE_STALE = (
    "⚠️ Bản cập nhật của bài số {n} đã đổi kể từ bản bạn xem. Chưa sửa gì; bản mới nhất ở dưới đây."
)
WATCH_NO_UPDATE = "❌ Bài số {n} chưa có bản cập nhật chờ duyệt. Gửi «cập nhật {n}» trước."
WATCH_DISMISSED = "🙈 Đã bỏ qua thay đổi của bài số {n} — {who}, {when}. Bài đăng giữ nguyên."
WATCH_UPDATED = "✅ Đã cập nhật bài đăng của bài số {n} — {who}, {when}."
WATCH_PARTIAL = "⚠️ Bài số {n}: một số kênh chưa cập nhật được. Gửi lại «duyệt cập nhật {n}» sau."
WATCH_NEED_REASON = "❌ Hãy ghi lý do gỡ bài: «gỡ {n} lý do». Chưa gỡ gì."
WATCH_NOT_ADMIN = "⛔ Chỉ quản trị viên được gỡ bài đã đăng. Yêu cầu đã được ghi lại."
WATCH_TAKEN_DOWN = "🗑 Gỡ bài số {n} — {who}, {when}:"
FIX_CODE = "Mã bản sửa: {revision}"
FIX_NOT_SEEN = (
    "⚠️ Đề xuất sửa {label} của bài số {n} (của {who}) là bản bạn chưa xem. Chưa sửa gì; "
    "hãy đọc bản dưới đây rồi gửi lại «duyệt sửa {n}»:\n{text}\n{code}"
)
FIX_REPLACED = (
    "⚠️ Đề xuất sửa {label} của bài số {n} đã được {who} thay bằng bản khác kể từ bản bạn xem. "
    "Chưa sửa gì; bản mới nhất dưới đây — gửi lại «duyệt sửa {n}» nếu đồng ý:\n{text}\n{code}"
)
