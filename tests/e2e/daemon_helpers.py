"""What the daemon tests share: a `syndicator run` subprocess, waiting, the approve button."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

TEST_KEY = "test-secret-key-0123456789abcdef"  # SYNDICATOR_SECRET_KEY of the test daemons


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(check: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def daemon_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["SYNDICATOR_SECRET_KEY"] = TEST_KEY
    env.update(extra)
    return env


class Daemon:
    """`syndicator --config CFG run` with its output in `log`."""

    def __init__(
        self,
        cfg: Path,
        log: Path,
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.cfg, self.log, self.cwd = cfg, log, cwd
        self.env = env if env is not None else daemon_env()
        self.preexec = preexec
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "--config", str(self.cfg),
             "--log-level", "debug", "--log-format", "json", "run"],
            stdout=out, stderr=subprocess.STDOUT, cwd=self.cwd, env=self.env,
            preexec_fn=self.preexec,
        )  # fmt: skip
        return self.proc

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            await asyncio.to_thread(self.proc.wait, 20)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def approve_data(message: dict) -> str | None:
    """The callback data of the "Duyệt" (approve) button of a preview, if it has one."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if "Duyệt" in button.get("text", "") and button.get("callback_data"):
                return str(button["callback_data"])
    return None
