"""`/lienket CODE` in Telegram: staff are linked to an approver the same way as in Zalo.

The IT officer runs `syndicator approvers add NAME [--admin]` and hands over the printed
one-time code; the person sends `/lienket CODE` to the bot (privately or in the staff group).
Their Telegram id is then bound to that approver, so nobody copies ids into the config by
hand (the config's `approvers`/`admins` lists keep working beside it). Redeeming is the same
audited, single-use, expiring step as on Zalo (storage/approvers.py).
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from syndicator.approval.handlers import bot_of
from syndicator.storage import aio

SURFACE = "telegram"
USAGE = "Cách dùng: /lienket MÃ (mã do cán bộ quản trị cấp bằng `syndicator approvers add`)."
LINKED = "✅ Đã liên kết tài khoản Telegram với người duyệt «{name}»{admin}."
ADMIN = " (quản trị viên)"
REFUSED = {
    "wrong": "❌ Mã liên kết không đúng. Kiểm tra lại mã.",
    "used": "❌ Mã liên kết này đã được dùng. Mỗi mã chỉ dùng một lần; hãy xin mã mới.",
    "expired": "❌ Mã liên kết đã hết hạn. Hãy xin cán bộ quản trị cấp mã mới.",
    "removed": "❌ Người duyệt gắn với mã này đã bị gỡ khỏi danh sách.",
}


async def cmd_lienket(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Bind the sender's Telegram id to the approver of a one-time code."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    bot = bot_of(context)
    code = " ".join(context.args or []).strip()
    if not code:
        bot.say(message.chat.id, USAGE, reply_to=message.message_id)
        return
    outcome = await aio.call(
        bot.storage.redeem_link_code, code, surface=SURFACE, user_id=str(user.id), chat_id=str(message.chat.id),
        display_name=user.full_name, now=bot.clock(),
    )  # fmt: skip
    if outcome.status == "linked" and outcome.approver is not None:
        admin = ADMIN if outcome.approver.is_admin else ""
        text = LINKED.format(name=outcome.approver.name, admin=admin)
    else:
        text = REFUSED.get(outcome.status, REFUSED["wrong"])
    bot.say(message.chat.id, text, reply_to=message.message_id)
