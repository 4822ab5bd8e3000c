"""CI runs the chaos bench's short mode: daemons SIGKILLed under faults keep every invariant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _PG_SKIP, PG_URL, reset_postgres

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.postgres
def test_chaos_short_keeps_every_invariant() -> None:
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "chaos.py"), "--short", "--db-url", PG_URL],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        reset_postgres(PG_URL)  # the next test starts from migrations, as the fixtures expect
    report = done.stdout + done.stderr[-3000:]
    assert done.returncode == 0, report
    assert "all invariants hold" in done.stdout, report
    assert "INVARIANT FAILED" not in done.stdout, report
