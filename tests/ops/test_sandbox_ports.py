"""`syndicator sandbox` on a fixed port range (as the guide tells trainees to run it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def _free_range(width: int = 6) -> int:
    """A base port whose next `width` ports are free right now."""
    for base in range(20700, 29000, 10):
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + width):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise AssertionError("no free port range")


def _sandbox(base: int, tmp_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "syndicator", "sandbox", "--port", str(base),
         "--write-config", str(tmp_path / "s.toml")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ},
    )  # fmt: skip


def test_fixed_ports_do_not_collide_and_a_taken_range_is_one_line(tmp_path: Path) -> None:
    """Every stand-in and the console get their own port of the range; a second sandbox on
    the same range says so in one line instead of a traceback."""
    base = _free_range()
    first = _sandbox(base, tmp_path)
    try:
        deadline, seen = time.monotonic() + 60, ""
        while "training page" not in seen and time.monotonic() < deadline:
            line = first.stdout.readline() if first.stdout else ""
            if not line and first.poll() is not None:
                break
            seen += line
        assert f"127.0.0.1:{base + 5}" in seen, seen + (first.stderr.read() if first.stderr else "")
        assert f"127.0.0.1:{base + 4}" in seen  # the Zalo Bot stand-in
        second = subprocess.run(
            [sys.executable, "-m", "syndicator", "sandbox", "--port", str(base),
             "--write-config", str(tmp_path / "t.toml")],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 1
        assert "--port" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        try:
            first.wait(timeout=20)
        except subprocess.TimeoutExpired:
            first.kill()
