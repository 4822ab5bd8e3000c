"""The README's main-job command runs end to end and exits 0."""

from __future__ import annotations

import subprocess
import sys


def test_demo_command_exits_zero() -> None:
    """`syndicator demo` finds articles, gets them approved in Telegram and, one of them, in
    Zalo (a linked approver answers `duyệt N`), and publishes them."""
    proc = subprocess.run(
        [sys.executable, "-m", "syndicator", "demo"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "live on Facebook" in out and "live on Zalo OA" in out
    assert "taps “Duyệt”" in out and "held for a human" in out
    assert "audit trail:               intact" in out
    # The Zalo approver links with her code, answers one preview, and it goes live.
    assert "Zalo bot → Trần Thị Bình: ✅ Đã liên kết" in out, out
    assert "answers “duyệt" in out and "approved in Zalo by zalo_bot:" in out, out
    assert "Zalo bot → Trần Thị Bình: ✅ Đã duyệt bài số" in out, out
    assert "approved through Zalo:     article " in out, out
    assert "Traceback" not in proc.stderr
