"""Publishing channels, one module each, behind the Protocol in channels.base.

`build_channel()` is the registry: the composition root calls it once per `[channels.<name>]`
table with the shared httpx client. Adding a channel kind means one more entry in `KINDS`.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from channels.base import (
    Channel,
    ChannelSettings,
    Clock,
    CredentialState,
    TokenSet,
    TokenStore,
    UnverifiedError,
    utc_now,
)
from channels.facebook_page import FacebookPage, FacebookPageSettings
from channels.zalo_oa import ZaloOA, ZaloOASettings
from syndicator.config import key_path
from syndicator.errors import ConfigError

KINDS: dict[str, type[BaseModel]] = {
    "facebook_page": FacebookPageSettings,
    "zalo_oa": ZaloOASettings,
}

__all__ = [
    "KINDS",
    "Channel",
    "ChannelSettings",
    "CredentialState",
    "FacebookPage",
    "FacebookPageSettings",
    "TokenSet",
    "TokenStore",
    "UnverifiedError",
    "ZaloOA",
    "ZaloOASettings",
    "build_channel",
    "parse_channel_settings",
]


def parse_channel_settings(name: str, raw: dict[str, Any]) -> ChannelSettings:
    """Validate one `[channels.<name>]` table; ConfigError names the exact key."""
    where = f"channels.{name}"
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if kind is None:
        raise ConfigError(f"{where}.kind: required key is missing (one of {', '.join(KINDS)})")
    model = KINDS.get(kind)
    if model is None:
        raise ConfigError(
            f"{where}.kind: unknown channel kind {kind!r} (one of {', '.join(KINDS)})"
        )
    try:
        settings = model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("; ".join(_describe(where, err) for err in exc.errors())) from exc
    assert isinstance(settings, ChannelSettings)
    return settings


def _describe(where: str, err: Any) -> str:
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against config/syndicator.example.toml)"
    elif err["type"] == "missing":
        message = "required key is missing"
    return f"{where}.{key_path(tuple(err['loc']))}: {message}"


def build_channel(
    name: str,
    raw_settings: dict[str, Any] | ChannelSettings,
    *,
    client: httpx.AsyncClient,
    token_store: TokenStore | None = None,
    clock: Clock = utc_now,
    may_refresh: bool = True,
) -> Channel:
    """The channel for one config table (raw or already parsed settings). `may_refresh=False`
    for commands run beside the daemon: they must not spend single-use refresh tokens."""
    settings = (
        raw_settings
        if isinstance(raw_settings, ChannelSettings)
        else parse_channel_settings(name, raw_settings)
    )
    if isinstance(settings, FacebookPageSettings):
        return FacebookPage(name, settings, client=client, clock=clock)
    if isinstance(settings, ZaloOASettings):
        if token_store is None:
            raise ConfigError(f"channels.{name}: a Zalo OA channel needs a token store")
        return ZaloOA(
            name,
            settings,
            client=client,
            token_store=token_store,
            clock=clock,
            may_refresh=may_refresh,
        )
    raise ConfigError(f"channels.{name}: no channel for settings {type(settings).__name__}")
