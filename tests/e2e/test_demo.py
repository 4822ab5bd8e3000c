"""The README's main-job command runs end to end and exits 0."""

from __future__ import annotations

import subprocess
import sys


def test_demo_command_exits_zero() -> None:
    """`syndicator demo` finds articles, gets them approved in Telegram and publishes them."""
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
    assert "Traceback" not in proc.stderr
