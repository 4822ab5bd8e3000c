"""`[daemon] event_loop`: the loop `syndicator run` runs on (syndicator/service.py)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from syndicator.config import parse_config
from syndicator.errors import SyndicatorError
from syndicator.service import loop_factory


def test_auto_takes_uvloop_where_it_is_installed() -> None:
    pytest.importorskip("uvloop")
    assert parse_config({}).daemon.event_loop == "auto"
    factory = loop_factory("auto")
    assert factory is not None
    loop = factory()
    try:
        assert type(loop).__module__.startswith("uvloop")
        with asyncio.Runner(loop_factory=factory) as runner:  # the way `syndicator run` runs
            assert runner.run(asyncio.sleep(0, result="ran")) == "ran"
    finally:
        loop.close()


def test_asyncio_keeps_asyncios_own_loop() -> None:
    assert loop_factory("asyncio") is None


def test_without_uvloop_auto_falls_back_and_uvloop_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    assert loop_factory("auto") is None
    with pytest.raises(SyndicatorError, match=r'event_loop = "uvloop" but uvloop is not installed'):
        loop_factory("uvloop")


def test_an_unknown_loop_is_a_config_error() -> None:
    from syndicator.errors import ConfigError

    with pytest.raises((ConfigError, ValueError), match="event_loop"):
        parse_config({"daemon": {"event_loop": "trio"}})
