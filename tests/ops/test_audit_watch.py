"""The daemon's audit check (`service.watch_audit`): a backlog is walked in bites, /healthz
learns the answer once the walk reached the newest row, and a break is reported at once."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from syndicator import service
from syndicator.service import Vitals
from syndicator.storage import open_storage


async def _until(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_backlog_in_bites_then_a_break(db_url: str, now, monkeypatch) -> None:
    store = open_storage(db_url, audit_key=b"w" * 32)
    monkeypatch.setattr(service, "AUDIT_STEP_ROWS", 7)
    monkeypatch.setattr(service, "AUDIT_CATCH_UP_S", 0.01)
    steps: list[bool] = []
    real = store.verify_audit_step

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        steps.append(result.pending)
        return result

    monkeypatch.setattr(store, "verify_audit_step", spy)
    for i in range(20):
        store.record_event("test.event", actor="tester", subject=f"s:{i}", data={}, now=now)
    vitals, stop = Vitals(), asyncio.Event()
    task = asyncio.create_task(service.watch_audit(store, vitals, 0.05, stop))
    try:
        await _until(lambda: vitals.audit is not None)
        assert vitals.audit == (True, None)
        assert steps[:3] == [True, True, False]  # 20+ rows in bites of 7
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET actor = 'x' WHERE id = 3"))
        store.delete_audit_checkpoint()  # as if the daily whole walk were due
        await _until(lambda: vitals.audit is not None and not vitals.audit[0])
        assert "event 3" in (vitals.audit[1] or "")
    finally:
        stop.set()
        await task
        store.close()
