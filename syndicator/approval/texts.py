"""Every string the bot shows staff, in Vietnamese, in one place.

Templates use str.format with named fields; the callers escape dynamic values for HTML before
formatting wherever the result is sent with parse_mode=HTML.
"""

from __future__ import annotations

from syndicator.types import PostStatus

# -- categories (the directive's list; keys as in domain.md) ----------------------------------
CATEGORY_NAMES = {
    "chi_dao_dieu_hanh": "Thông tin chỉ đạo, điều hành",
    "khen_thuong_xu_phat": "Khen thưởng, xử phạt",
    "quy_hoach_ke_hoach": "Chiến lược, quy hoạch, kế hoạch phát triển",
    "dau_tu_moi_goi": "Chính sách ưu đãi, cơ hội đầu tư",
    "dau_thau_mua_sam": "Đấu thầu, mua sắm công, đầu tư công",
    "ho_tro_doanh_nghiep": "Hỗ trợ doanh nghiệp",
    "van_ban_phap_luat": "Văn bản quy phạm pháp luật, văn bản chỉ đạo",
    "thu_tuc_hanh_chinh": "Thủ tục hành chính, dịch vụ công",
    "pho_bien_phap_luat": "Phổ biến, hướng dẫn pháp luật",
    "khoa_hoc_cong_nghe": "Chương trình, đề tài khoa học",
    "hoi_dap": "Hỏi – Đáp",
    "tin_tuc": "Tin tức, sự kiện",
}
KIND_NAMES = {"facebook_page": "Facebook", "zalo_oa": "Zalo OA"}

# -- preview ----------------------------------------------------------------------------------
HEADER = "📰 Bài mới chờ duyệt"
HEADER_URGENT = "🔴 KHẨN — bài mới chờ duyệt"
AGENCY = "Nguồn: {agency}"
CATEGORY = "Chuyên mục: {names}"
NO_CATEGORY = "chưa phân loại"
LINK = "Bài gốc: {url}"
FLAG_HELD = "⛔ Có dấu hiệu mật ({marker}) — chỉ đăng khi người duyệt quyết định"
FLAG_HELD_NO_MARKER = "⛔ Bị giữ lại — chỉ đăng khi người duyệt quyết định"
FLAG_DUPLICATE_OF = "⚠️ Trùng với bài #{id}"
FLAG_ALSO_AT = "ℹ️ Bài trùng cũng đăng tại: {agencies}"
FLAG_CHANGED = "✏️ Nội dung đã thay đổi kể từ lần đầu thấy (phiên bản {version})"
FLAG_TCVN3 = "⚠️ Nghi bảng mã TCVN3 (đã chuyển đổi) — kiểm tra chính tả"
FLAG_NO_DATE = "⚠️ Nguồn không ghi ngày đăng"
CHANNEL_TITLE = "▶ {label} ({name}) — {status}"
SHORTENED = "… (bản xem trước đã rút gọn, còn {rest} ký tự; bài đăng giữ nguyên nội dung)"
SHORTENED_PHOTO = "… (rút gọn)"
IMAGE_LINK = "🖼 Ảnh minh họa"
EDITED_MARK = " · đã sửa"

STATUS = {
    PostStatus.PENDING: "⏳ chờ duyệt",
    PostStatus.HELD: "⛔ chờ duyệt (bị giữ)",
    PostStatus.APPROVED: "✅ đã duyệt, chờ đăng",
    PostStatus.SCHEDULED: "🕒 hẹn đăng {when}",
    PostStatus.PUBLISHING: "📤 đang đăng",
    PostStatus.PUBLISHED: "✅ đã đăng",
    PostStatus.FAILED: "❌ đăng lỗi",
    PostStatus.NEEDS_HUMAN: "⚠️ cần kiểm tra thủ công",
    PostStatus.REJECTED: "🚫 đã từ chối",
    PostStatus.EXPIRED: "⌛ hết hạn",
    PostStatus.SKIPPED: "⚪ tắt (không đăng)",
    PostStatus.REMOVING: "🗑 đang gỡ",
    PostStatus.REMOVED: "🗑 đã gỡ",
}

STAMP_APPROVED = "✅ Đã duyệt bởi {who} lúc {when}"
STAMP_SCHEDULED = "🕒 Đã hẹn giờ bởi {who} lúc {when}: đăng lúc {at}"
STAMP_REJECTED = "🚫 Đã từ chối bởi {who} lúc {when}"
STAMP_REASON = "Lý do: {reason}"
STAMP_EXPIRED = "⌛ Hết hạn chờ duyệt lúc {when}"
LIVE_LINK = "🔗 {label}: {url}"
LIVE_NO_LINK = "🔗 {label}: đã đăng (mã {external_id})"
FAILURE = "❌ {label}: {error}"
SYSTEM = "hệ thống"
RULE = "quy tắc tự duyệt"

# -- buttons ----------------------------------------------------------------------------------
BTN_APPROVE = "✅ Duyệt"
BTN_EDIT = "✏️ Sửa"
BTN_SCHEDULE = "🕒 Hẹn giờ"
BTN_REJECT = "❌ Từ chối"
BTN_ON = "🟢 {label}"
BTN_OFF = "⚪ {label} (tắt)"
BTN_EDIT_CHANNEL = "✏️ Sửa {label}"
BTN_BACK = "↩️ Quay lại"
BTN_IN_1H = "+1 giờ"
BTN_IN_3H = "+3 giờ"
BTN_TOMORROW_7 = "07:00 sáng mai"
BTN_ASK_TIME = "⌨️ Nhập giờ…"
BTN_REJECT_NOW = "❌ Từ chối ngay"
BTN_REJECT_REASON = "📝 Từ chối, ghi lý do…"
BTN_TAKEDOWN = "🗑 Gỡ bài"
PROMPT_TAKEDOWN = (
    "🗑 {who}, xác nhận gỡ bài #{article} khỏi {channels}: hãy trả lời tin nhắn này bằng lý do "
    "gỡ bài (lý do được ghi vào nhật ký hoạt động)."
)
TAKEDOWN_HEAD = "🗑 Gỡ bài #{article}:"
TAKEDOWN_OK = "  • {label}: đã gỡ"
TAKEDOWN_PENDING = "  • {label}: chưa gỡ được, hệ thống sẽ tự thử lại"
TAKEDOWN_NOTHING = "Bài này không còn bài đăng nào đang hiển thị để gỡ."
TAKEDOWN_NEED_REASON = "Cần ghi lý do gỡ bài. Hãy trả lời lại tin nhắn yêu cầu."
REMOVED_LINE = "🗑 {label}: đã gỡ — {reason}"
# Correcting a published post (approval/corrections.py, approval/correct_buttons.py)
BTN_CORRECT = "✏️ Sửa bài đã đăng"
BTN_CORRECT_CHANNEL = "✏️ Sửa {label}"
BTN_CORRECT_APPROVE = "✅ Duyệt sửa"
BTN_CORRECT_APPROVE_CHANNEL = "✅ Duyệt sửa {label}"
BTN_CORRECT_CANCEL = "↩️ Huỷ"
BTN_CORRECT_CANCEL_CHANNEL = "↩️ Huỷ sửa {label}"
PROMPT_CORRECT = (
    "✏️ {who}, hãy trả lời tin nhắn này bằng nội dung mới cho bài đã đăng trên {label} ({field}, "
    "tối đa {limit} ký tự) của bài #{article}. Nội dung sửa chỉ được đăng sau khi có người "
    "duyệt. Nội dung đang hiển thị:\n{current}"
)
CORRECT_BLOCK = "✏️ Đề xuất sửa {label} (của {who}), chờ duyệt:"
CORRECT_PROPOSED = (
    "✏️ Đã ghi đề xuất sửa {label} của bài #{article}. Bài đã đăng chỉ đổi khi có người duyệt "
    "bản sửa."
)
CORRECT_SAME = "⚠️ Nội dung mới giống hệt nội dung đang hiển thị trên {label}, không có gì để sửa."
CORRECT_NOT_LIVE = "⚠️ Bài #{article} không còn hiển thị trên {label}, không sửa được."
CORRECT_GONE = "Đề xuất sửa này không còn (đã được duyệt hoặc huỷ)."
CORRECT_CANCELLED = "Đã huỷ đề xuất sửa {label}. Bài đã đăng giữ nguyên."
CORRECT_OUTDATED = (
    "Bài đăng trên {label} đã thay đổi (hoặc đã gỡ) sau khi đề xuất sửa, nên đề xuất bị huỷ. "
    "Hãy đề xuất lại nếu vẫn cần."
)
CORRECT_FAILED = "⚠️ {label} chưa nhận bản sửa. Đề xuất vẫn được giữ: hãy duyệt sửa lại sau ít phút."
CORRECT_DONE = "✅ Đã sửa bài đã đăng trên {label} (bài #{article})."
CORRECT_NOTHING = "Bài này không còn bài đăng nào đang hiển thị để sửa."
CORRECT_CHOOSE = "Chọn kênh cần sửa bài đã đăng."

# -- answers to taps (answerCallbackQuery: at most 200 characters) ----------------------------
ANS_REFUSED = "Xin lỗi, bạn chưa có quyền duyệt bài. Gửi /whoami rồi nhờ quản trị viên thêm bạn."
ANS_DONE_BY = "Đã được xử lý bởi {who} lúc {when}."
ANS_DONE = "Bài này đã được xử lý."
ANS_APPROVED = "Đã duyệt. Bài sẽ được đăng."
ANS_SCHEDULED = "Đã hẹn đăng lúc {when}."
ANS_REJECTED = "Đã từ chối."
ANS_CHANNEL_OFF = "Đã tắt kênh {label}."
ANS_CHANNEL_ON = "Đã bật lại kênh {label}."
ANS_NOTHING_ON = "Chưa bật kênh nào: hãy bật ít nhất một kênh trước khi duyệt."
ANS_REPLY_PROMPT = "Hãy trả lời tin nhắn của bot."
ANS_UNKNOWN = "Nút này không còn dùng được."
ANS_STALE = "Nội dung đã thay đổi, vui lòng xem lại bản mới."
ANS_OLD_BUTTON = (
    "Nút này thuộc bản xem trước cũ. Bản xem trước đã được làm mới, vui lòng xem lại và bấm lại."
)
ANS_WRONG_MESSAGE = "Nút này không thuộc bài trên tin nhắn này nên không được thực hiện."
ANS_NO_ARTICLE = "Không tìm thấy bài #{article}."
ANS_NO_CHANNEL = "Bài #{article} không có kênh «{channel}»."
ANS_NEED_TEXT = "Thiếu nội dung."
ANS_NEED_TIME = "Thiếu thời điểm đăng."
ANS_CHANNEL_ALREADY_OFF = "Kênh {label} đã tắt từ trước."
ANS_CHANNEL_ALREADY_ON = "Kênh {label} đang bật."
NOT_YOUR_PROMPT = (
    "Xin lỗi, chỉ {who} (người đã yêu cầu) mới trả lời được câu hỏi này. "
    "Nếu cần, hãy tự bấm nút trên bản xem trước."
)
URL_RESTORED = (
    " Liên kết bài gốc đã được thêm lại vào cuối nội dung, để hệ thống luôn đối chiếu được "
    "bài đăng trên Facebook."
)
RETRY_NONE = "Bài #{article} không có bài đăng lỗi nào cần đăng lại."
ANS_OK = ""

# -- forced-reply prompts and their outcomes --------------------------------------------------
PROMPT_EDIT = (
    "✏️ {who}, hãy trả lời tin nhắn này bằng nội dung mới cho {label} ({field}, tối đa {limit} "
    "ký tự) của bài #{article}. Nội dung hiện tại:\n{current}"
)
PROMPT_SCHEDULE = (
    "🕒 {who}, hãy trả lời tin nhắn này bằng giờ đăng bài #{article}, ví dụ «15:30» hoặc "
    "«15:30 24/11» (giờ Việt Nam)."
)
PROMPT_REJECT = "❌ {who}, hãy trả lời tin nhắn này bằng lý do từ chối bài #{article}."
FIELD_NAMES = {"message": "nội dung bài", "caption": "chú thích ảnh", "description": "mô tả"}
EDIT_SAVED = "✅ Đã cập nhật nội dung {label} của bài #{article}."
EDIT_EMPTY = "⚠️ Nội dung trống. Hãy trả lời lại tin nhắn yêu cầu bằng nội dung mới."
EDIT_TOO_LONG = (
    "⚠️ Nội dung dài {length} ký tự, vượt giới hạn {limit} ký tự của {label}. Hãy rút gọn và "
    "trả lời lại tin nhắn yêu cầu."
)
EDIT_NOT_SUPPORTED = "⚠️ Kênh {label} chưa hỗ trợ sửa nội dung trong Telegram."
TIME_INVALID = "⚠️ Không hiểu «{text}». Hãy trả lời lại, ví dụ «15:30» hoặc «15:30 24/11»."
TIME_PAST = "⚠️ Thời điểm {when} đã qua. Hãy chọn một thời điểm sau này."
TOO_LATE = "Bài #{article} đã được xử lý trước đó ({status})."

# -- reminders and alerts ---------------------------------------------------------------------
REMINDER = "⏰ Bài #{article} đang chờ duyệt đã {age}: {title}"
REMINDER_URGENT = "🔴⏰ Bài KHẨN #{article} đang chờ duyệt đã {age}: {title}"
ALERT_FLOOD = (
    "⚠️ Nguồn «{source}» đưa lên quá nhiều tin mới trong một lần lấy: đã nhận {stored}, "
    "còn {deferred} tin chờ (mỗi lần nhận tối đa {cap}). Hãy kiểm tra xem cổng thông tin có "
    "bị lỗi hoặc bị xâm nhập không."
)
ALERT_BLOCKED = (
    "⛔ Facebook tạm khóa đăng bài trên kênh «{channel}» (lỗi 368). Kênh tạm dừng đến {until}; "
    "bài #{post} và các bài sau vẫn giữ chỗ. Cán bộ quản trị nên kiểm tra Trang trong "
    "Meta Business Suite."
)
ALERT_SOURCE = "🚨 Nguồn «{source}» không lấy được tin ({errors} lần liên tiếp). {error}"
ALERT_SOURCE_OK = "✅ Nguồn «{source}» đã hoạt động lại."
ALERT_CREDENTIALS = (
    "🔑 Kênh {channel} cần cấp lại quyền truy cập, đã tạm dừng đăng. Cách sửa: {fix}"
)
ALERT_FAILED = "❌ Bài #{article} đăng lên {channel} không thành công (bài đăng #{post}). {error}"
ALERT_NEEDS_HUMAN = (
    "⚠️ Bài #{article} trên {channel} (bài đăng #{post}) chưa rõ đã đăng hay chưa: hãy kiểm tra "
    "trên kênh rồi dùng /retry {post} nếu chưa có. {error}"
)
ALERT_PREVIEW = (
    "⚠️ Không gửi được bản xem trước của bài #{article} vào nhóm biên tập ({error}). "
    "Bài vẫn chờ duyệt; có thể duyệt bằng lệnh `syndicator approve a{article}`."
)
ALERT_ZALO_REFRESH = (
    "🔑 Kênh {channel}: hệ thống gặp lỗi khi làm mới mã truy cập Zalo, bài chưa lên Zalo OA được. "
    "Cán bộ quản trị cần cấp lại mã (xem hướng dẫn vận hành). Chi tiết kỹ thuật: {error}"
)
ALERT_AUDIT = (
    "🚨 Nhật ký hoạt động không còn toàn vẹn tại sự kiện #{bad_id}: dữ liệu đã bị sửa ngoài "
    "hệ thống. Không tự sửa; hãy báo cán bộ quản trị. Chi tiết kỹ thuật: {reason}"
)

# -- commands ---------------------------------------------------------------------------------
COMMANDS = [
    ("pending", "Bài đang chờ duyệt (cũ nhất trước)"),
    ("lich", "Lịch đăng hôm nay và ngày mai, lý do bài còn chờ"),
    ("status", "Tình trạng nguồn tin, kênh đăng và hàng đợi"),
    ("pause", "Tạm dừng đăng (một kênh hoặc tất cả)"),
    ("resume", "Tiếp tục đăng (một kênh hoặc tất cả)"),
    ("retry", "Đăng lại một bài lỗi: /retry MÃ_BÀI_ĐĂNG"),
    ("report", "Báo cáo: /report week | month | quarter"),
    ("lienket", "Liên kết tài khoản với người duyệt: /lienket MÃ"),
    ("whoami", "Xem mã người dùng Telegram của bạn"),
    ("help", "Hướng dẫn sử dụng"),
]
HELP = (
    "Bot duyệt bài của Cổng TTĐT.\n"
    "Mỗi bài mới được gửi vào nhóm kèm nội dung sẽ đăng lên từng kênh. Người duyệt bấm:\n"
    "✅ Duyệt — đăng ngay; 🟢/⚪ — bật/tắt từng kênh; ✏️ Sửa — sửa nội dung một kênh;\n"
    "🕒 Hẹn giờ — chọn giờ đăng; ❌ Từ chối — không đăng.\n\n"
    "Lệnh:\n{commands}"
)
WHOAMI = "Mã người dùng của bạn: {id}\nTên: {name}\nQuyền: {role}"
ROLE_ADMIN = "quản trị viên"
ROLE_APPROVER = "người duyệt"
ROLE_NONE = "chưa có (gửi mã này cho quản trị viên để được thêm)"
NOT_ADMIN = "Xin lỗi, lệnh này chỉ dành cho quản trị viên."
NOT_APPROVER = "Xin lỗi, lệnh này chỉ dành cho người duyệt."
PENDING_NONE = "Không có bài nào đang chờ duyệt. 👍"
PENDING_HEAD = "Bài đang chờ duyệt ({count}):"
PENDING_LINE = "{urgent}#{article} · {age} · {agency}: {title}"
PENDING_MORE = "… và {more} bài nữa."
# /status is read by approvers: full sentences, the channel by its kind and name, and a plain
# sentence instead of a source's raw error (approval/plain.py).
STATUS_TEXT = (
    "📊 Tình trạng hệ thống\n{last_poll}\n{sources}\n{bad_sources}Kênh đăng:\n{channels}\n{queues}"
)
STATUS_LAST_POLL = "Lần lấy tin gần nhất lúc {when}."
STATUS_NO_POLL = "Chưa lấy tin lần nào."
STATUS_SOURCES = "Có {total} nguồn tin: {parts}."
STATUS_NO_SOURCES = "Chưa có nguồn tin nào được theo dõi."
STATUS_SOURCE_PART = {
    "ok": "{n} nguồn lấy tin bình thường",
    "new": "{n} nguồn chưa lấy tin lần nào",
    "failing": "{n} nguồn đang lỗi",
    "unhealthy": "{n} nguồn lỗi kéo dài",
}
STATUS_SOURCE_BAD = "  ⚠️ Nguồn «{source}» {status} ({errors} lần liên tiếp): {error}\n"
STATUS_CHANNEL = "  {icon} Kênh {label}«{channel}» {status}{reason}."
STATUS_NO_CHANNELS = "  Chưa cấu hình kênh đăng nào."
STATUS_QUEUE = "Hàng đợi: {parts}."
STATUS_QUEUE_EMPTY = "Hàng đợi trống: không có bài nào chờ duyệt hay chờ đăng."
STATUS_QUEUE_PART = {
    PostStatus.PENDING: "{n} bài chờ duyệt",
    PostStatus.HELD: "{n} bài bị giữ chờ duyệt",
    PostStatus.APPROVED: "{n} bài đã duyệt chờ đăng",
    PostStatus.SCHEDULED: "{n} bài hẹn giờ",
    PostStatus.PUBLISHING: "{n} bài đang đăng",
    PostStatus.FAILED: "{n} bài đăng lỗi",
    PostStatus.NEEDS_HUMAN: "{n} bài cần kiểm tra thủ công",
}
STATUS_NEVER = "chưa có"
CHANNEL_STATES = {
    "active": "đang hoạt động",
    "paused": "đang tạm dừng",
    "needs_credentials": "cần cấp lại quyền truy cập",
}
SOURCE_STATES = {
    "ok": "lấy tin bình thường", "new": "chưa lấy tin lần nào", "failing": "đang lỗi",
    "unhealthy": "lỗi kéo dài",
}  # fmt: skip
PAUSED = "⏸ Đã tạm dừng: {channels}."
RESUMED = "▶️ Đã tiếp tục: {channels}."
UNCHANGED = "Không có gì thay đổi ({channels})."
UNKNOWN_CHANNEL = "Không có kênh «{channel}». Các kênh: {channels}."
RETRY_USAGE = "Cách dùng: /retry MÃ_BÀI_ĐĂNG (số, xem trong cảnh báo lỗi)."
RETRY_DONE = "🔁 Bài đăng #{post} ({channel}) sẽ được đăng lại."
RETRY_NOT_FOUND = "Không tìm thấy bài đăng #{post}."
RETRY_NOT_FAILED = "Bài đăng #{post} đang ở trạng thái «{status}», không cần đăng lại."
PAUSE_REASON = "tạm dừng qua Telegram bởi {who}"

# -- time -------------------------------------------------------------------------------------
AGE_MINUTES = "{m} phút"
AGE_HOURS = "{h} giờ {m} phút"
AGE_DAYS = "{d} ngày {h} giờ"

# -- the daily heartbeat (admin chat) --------------------------------------------------------
HEARTBEAT_TITLE = "💓 syndicator vẫn hoạt động — {day}"
HEARTBEAT_SOURCES = "Nguồn tin: {total} (lỗi kéo dài: {bad})"
HEARTBEAT_PUBLISHED = "Đã đăng trong 24 giờ qua: {count} bài"
HEARTBEAT_WAITING = "Đang chờ duyệt: {count} bài"
HEARTBEAT_FAILED = "Lỗi cần xử lý trong 24 giờ qua: {count}"
HEARTBEAT_UNHEALTHY = "⚠️ Nguồn lỗi: {names}"
HEARTBEAT_CHANNELS = "⚠️ Kênh tạm dừng hoặc cần cấp lại quyền: {names}"

# -- watching published articles (approval/watch_buttons.py) -------------------------------
WATCH_CHANGED_HEAD = "✏️ Bài đã đăng vừa được sửa trên cổng (bài #{article})"
WATCH_WITHDRAWN_HEAD = "🚫 Bài đã đăng không còn trên cổng (bài #{article}, HTTP {status})"
WATCH_TITLE = "Tiêu đề: {title}"
WATCH_AGENCY = "Nguồn: {agency}"
WATCH_LINK = "Bài gốc: {url}"
WATCH_TITLE_CHANGED = "Tiêu đề đã đổi:"
WATCH_TEXT_CHANGED = "Nội dung thay đổi khoảng {share}%. Câu đầu tiên khác:"
WATCH_BEFORE = "➖ Trước: {text}"
WATCH_AFTER = "➕ Sau: {text}"
WATCH_EMPTY = "(không có)"
WATCH_LIVE = "Đang đăng trên: {channels}"
WATCH_CONFIRM_HEAD = "🔄 Bản cập nhật chờ duyệt cho bài #{article} (đề nghị bởi {who})"
WATCH_NEW_TEXT = "▶ {label} sẽ hiển thị:\n{text}"
WATCH_DISMISSED = "🙈 Đã bỏ qua bởi {who} lúc {when}"
WATCH_UPDATED = "✅ Đã cập nhật bài đăng, duyệt bởi {who} lúc {when}"
WATCH_UPDATE_OK = "✅ {label}: đã cập nhật"
WATCH_UPDATE_FAILED = "❌ {label}: chưa cập nhật được — {error}"
WATCH_TAKEDOWN_ASKED = "🗑 {who} đang gỡ bài (trả lời tin nhắn hỏi lý do để xác nhận)"
WATCH_STALE = "Bài trên cổng vừa thay đổi lần nữa; thông báo đã được làm mới."
WATCH_GONE = "Thông báo này đã cũ hoặc đã được xử lý."
WATCH_NOTHING_LIVE = "Không còn bài đăng nào đang hiển thị để cập nhật."
WATCH_SAME = "Bài đăng đã hiển thị đúng nội dung mới; không cần cập nhật."
WATCH_ANS_DISMISSED = "Đã bỏ qua."
WATCH_ANS_RENDERED = "Đã tạo bản cập nhật; cần duyệt để sửa bài đăng."
WATCH_ANS_UPDATED = "Đã cập nhật bài đăng."
WATCH_ANS_PARTIAL = "Một số kênh chưa cập nhật được; xem chi tiết trong tin nhắn."
BTN_WATCH_UPDATE = "🔄 Cập nhật bài đăng"
BTN_WATCH_TAKEDOWN = "🗑 Gỡ bài"
BTN_WATCH_DISMISS = "🙈 Bỏ qua"
BTN_WATCH_APPROVE = "✅ Duyệt cập nhật"
