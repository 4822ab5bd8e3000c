"""Vietnamese commands typed to the Zalo bot, with or without diacritics, any case. Pure.

Zalo basic bots have no buttons (issue 13), so every decision is a typed sentence:
  duyệt 12 [fb|zalo]          từ chối 12 [lý do]          sửa 12 fb|zalo <nội dung>
  hẹn 12 15:30 [24/11]        chờ        trạng thái        giúp        /lienket CODE
  duyệt sửa 12 [fb|zalo]      huỷ sửa 12 [fb|zalo]   (a correction of a published post)
  báo cáo [tuần|tháng|quý]                               (the period's report summary)
  cập nhật 12 / duyệt cập nhật 12 / gỡ 12 <lý do> / bỏ qua 12   (a change-watch alert)
Matching runs on a folded copy of the text (lower case, marks removed, đ → d) that keeps one
character per character of the NFC original, so the free text after a command (a reason, a new
post text) is sliced from the original with its diacritics and line breaks intact.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

CHANNEL_ALIASES = {"fb": "facebook_page", "facebook": "facebook_page", "zalo": "zalo_oa",
                   "oa": "zalo_oa"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Command:
    """What the person asked: kind in link | approve | reject | edit | schedule | waiting |
    status | help | approve_fix | cancel_fix | report | watch_update | watch_approve |
    watch_takedown | watch_dismiss | unknown; `kind_of_channel` is a channel kind (facebook_page, zalo_oa)."""

    kind: str
    article_id: int | None = None
    kind_of_channel: str | None = None
    text: str = ""  # reason, new text, the time, the link code, or the report period


def fold(text: str) -> str:
    """Lower case without marks, one output character per input character (NFC input)."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFD", ch)[0] if not unicodedata.combining(ch) else ""
        base = {"đ": "d", "Đ": "d"}.get(base, base)
        out.append((base or " ").lower()[:1])
    return "".join(out)


_N = r"\s*#?(\d{1,12})"
# The report's period words, folded (tuần → tuan, quý → quy), and the English of /report.
PERIODS = {"tuan": "week", "week": "week", "thang": "month", "month": "month", "quy": "quarter",
           "quarter": "quarter"}  # fmt: skip
NO_NUMBER = ("link", "waiting", "status", "help", "report")
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("link", re.compile(r"^/?\s*lien\s*ket\s+(?P<rest>\S.*)$", re.S)),
    ("report", re.compile(r"^/?(?:bao\s*cao|report)(?:\s+(?P<per>[a-z]+))?\s*$")),
    ("watch_approve", re.compile(rf"^/?duyet\s*cap\s*nhat{_N}\s*$")),
    ("watch_update", re.compile(rf"^/?cap\s*nhat{_N}\s*$")),
    ("watch_takedown", re.compile(rf"^/?go(?:\s*bai)?{_N}(?:\s+(?P<rest>.*))?$", re.S)),
    ("watch_dismiss", re.compile(rf"^/?bo\s*qua{_N}\s*$")),
    ("approve_fix", re.compile(rf"^/?duyet\s*sua{_N}(?:\s+(?P<ch>[a-z]+))?\s*$")),
    ("cancel_fix", re.compile(rf"^/?huy\s*sua{_N}(?:\s+(?P<ch>[a-z]+))?\s*$")),
    ("approve", re.compile(rf"^/?(?:duyet|dong y|ok){_N}(?:\s+(?P<ch>[a-z]+))?\s*$")),
    ("reject", re.compile(rf"^/?tu\s*choi{_N}(?:\s+(?P<rest>.*))?$", re.S)),
    ("edit", re.compile(rf"^/?sua{_N}\s+(?P<ch>[a-z]+)\b\s*(?P<rest>.*)$", re.S)),
    ("schedule", re.compile(rf"^/?hen(?:\s*gio)?{_N}\s+(?P<rest>.+)$", re.S)),
    ("waiting", re.compile(r"^/?(?:cho|cho duyet|danh sach)\s*$")),
    ("status", re.compile(r"^/?(?:trang\s*thai|tinh\s*trang)\s*$")),
    ("help", re.compile(r"^/?(?:giup|tro giup|huong dan|help|start|menu|\?)\s*$")),
]


def _is_go(head: str) -> bool:
    """The words before the number of a take-down: "go"/"go bai" typed without marks, or with
    them exactly "gỡ"/"gỡ bài". Folded, "gõ" (to type) and "gọ" read as "gỡ" too, and a take-down
    of a live post must not come from a word that only looks like it once its marks are gone."""
    words = " ".join(head.strip().lstrip("/").rstrip("#").lower().split())
    return words == fold(words) or words in ("gỡ", "gỡ bài")


def parse(text: str) -> Command:
    """The command in a message; "unknown" (never an exception) for anything else."""
    original = unicodedata.normalize("NFC", text or "").strip()
    folded = fold(original)
    for kind, pattern in _PATTERNS:
        match = pattern.match(folded)
        if match is None:
            continue
        groups = match.groupdict()
        number = int(match.group(1)) if kind not in NO_NUMBER else None
        if kind == "report":  # an unknown period word: the answer explains the command
            word = groups.get("per") or "tuan"
            return Command("report", text=PERIODS.get(word, "?" + word))
        if kind == "watch_takedown" and not _is_go(original[: match.start(1)]):
            return Command("unknown", text=original)
        rest = original[match.start("rest") :].strip() if groups.get("rest") is not None else ""
        channel = groups.get("ch")
        if channel is not None:
            if channel not in CHANNEL_ALIASES:
                return Command("unknown", number, text=original)
            channel = CHANNEL_ALIASES[channel]
        if kind == "edit" and not rest:
            return Command("unknown", number, channel, original)
        if kind == "link":
            rest = rest.split()[0] if rest else ""
        return Command(kind, number, channel, rest)
    return Command("unknown", text=original)
