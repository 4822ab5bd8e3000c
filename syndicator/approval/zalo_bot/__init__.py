"""Approving on Zalo: the Zalo Bot Platform surface (issue 13).

Public API:
    build_surface(settings, storage, channels, http, *, clock) -> ZaloBotSurface
    ZaloBotSurface.start() / stop()            long polling, or the webhook receiver
    ZaloBotSurface.tick(now)                   previews, follow-up notes, retries
    ZaloBotSurface.on_post_event(what, record) the Publisher listener (links after publishing)

Modules: client.py (HTTP), commands.py (typed Vietnamese commands, pure), render.py (preview
messages, pure), surface.py (the loop), webhook.py (the receiver), texts.py (what it says),
naming.py (the revision a preview shows, who decided; decisions go through
syndicator/approval/decisions.py, the core every surface shares).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import httpx

from syndicator.approval.zalo_bot.surface import ZaloBotSurface, utcnow
from syndicator.config import Settings
from syndicator.storage import Storage

if TYPE_CHECKING:
    from channels.base import Channel

__all__ = ["ZaloBotSurface", "build_surface"]


def build_surface(
    settings: Settings, storage: Storage, channels: Mapping[str, Channel], http: httpx.AsyncClient,
    *, clock: Callable[[], datetime] = utcnow,
) -> ZaloBotSurface:  # fmt: skip
    """The Zalo approval surface for `[approval] surfaces = [..., "zalo_bot"]` (not started)."""
    return ZaloBotSurface(settings, storage, channels, http, clock=clock)
