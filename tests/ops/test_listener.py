"""The health listener at the wire: what a monitor, a scraper, a slow or a hostile client get.

Raw sockets, not an HTTP client, so a head sent in pieces, an oversized head and a client that
never reads are exactly what the server sees.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syndicator import server as server_module
from syndicator.config import ServerSettings
from syndicator.metrics import Metrics
from syndicator.server import HealthServer
from syndicator.storage import open_storage

SETTINGS = ServerSettings(listen="127.0.0.1:0", max_poll_age=timedelta(minutes=30))


@pytest.fixture
async def listener(sqlite_url: str) -> AsyncIterator[tuple[str, int]]:
    storage = open_storage(sqlite_url)
    metrics = Metrics(storage, channels=("facebook",))
    server = HealthServer(SETTINGS, storage, metrics, last_poll=lambda: datetime.now(UTC))
    url = await server.start()
    host, port = url.removeprefix("http://").rsplit(":", 1)
    try:
        yield host, int(port)
    finally:
        await server.stop()
        storage.close()


async def exchange(address: tuple[str, int], *pieces: bytes, pause: float = 0.0) -> bytes:
    """Send the pieces (pausing between them), then read until the server closes."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


async def test_healthz_answers_json_and_closes(listener: tuple[str, int]) -> None:
    answer = await exchange(listener, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(answer) == 200
    assert b"Content-Type: application/json; charset=utf-8" in head
    assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) == len(body)
    assert b'"status": "ok"' in body


async def test_a_head_sent_in_pieces_is_answered(listener: tuple[str, int]) -> None:
    """A slow client that sends its head a few bytes at a time (within the timeout)."""
    request = b"GET /healthz?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    pieces = [request[i : i + 7] for i in range(0, len(request), 7)]
    answer = await exchange(listener, *pieces, pause=0.02)
    assert status_of(answer) == 200


async def test_head_request_gets_the_head_only(listener: tuple[str, int]) -> None:
    answer = await exchange(listener, b"HEAD /healthz HTTP/1.1\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(answer) == 200 and body == b""
    assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) > 0


async def test_other_methods_paths_and_garbage(listener: tuple[str, int]) -> None:
    assert status_of(await exchange(listener, b"POST /healthz HTTP/1.1\r\n\r\n")) == 405
    assert status_of(await exchange(listener, b"\x16\x03\x01 nonsense\r\n\r\n")) == 405
    assert status_of(await exchange(listener, b"GET /nope HTTP/1.1\r\n\r\n")) == 404
    answer = await exchange(listener, b"GET / HTTP/1.0\r\n\r\n")
    assert status_of(answer) == 200 and answer.endswith(b"see /healthz and /metrics\n")


async def test_metrics_are_rendered_off_the_loop(listener: tuple[str, int]) -> None:
    answer = await exchange(listener, b"GET /metrics HTTP/1.1\r\n\r\n")
    assert status_of(answer) == 200
    assert b"syndicator_" in answer


async def test_an_oversized_head_is_closed_without_a_word(listener: tuple[str, int]) -> None:
    flood = b"GET /healthz HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 10_000 + b"\r\n"
    with contextlib.suppress(ConnectionError):  # a reset is as good as a close here
        assert await exchange(listener, flood) == b""


async def test_an_idle_client_is_closed_after_the_timeout(
    listener: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "HEADER_TIMEOUT_S", 0.2)
    reader, writer = await asyncio.open_connection(*listener)
    try:
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, nothing said
    finally:
        writer.close()


async def test_connections_over_the_cap_get_503(
    listener: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "MAX_CONNECTIONS", 2)
    held: list[Any] = [await asyncio.open_connection(*listener) for _ in range(2)]
    try:
        await asyncio.sleep(0.05)
        answer = await exchange(listener)
        assert status_of(answer) == 503 and answer.endswith(b"too many connections\n")
    finally:
        for _, writer in held:
            writer.close()
    await asyncio.sleep(0.1)  # the held ones closed: room again
    assert status_of(await exchange(listener, b"GET /healthz HTTP/1.1\r\n\r\n")) == 200
