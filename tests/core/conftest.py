"""Fixtures shared by the poll tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from syndicator.sandbox.portal import PortalServer


@pytest.fixture
async def portal() -> AsyncIterator[PortalServer]:
    """A running stand-in portal on a free port."""
    server = PortalServer()
    await server.start()
    yield server
    await server.stop()
