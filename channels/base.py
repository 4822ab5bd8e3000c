"""What every publishing channel looks like to the rest of syndicator.

A channel renders an `Article` into a `Post` (pure), publishes a stored `Post` (one create
call, never retried inside), reconciles after an ambiguous outcome, and reports the health of
its credentials. Errors are the `syndicator.errors.PublishError` family:

- `TemporaryError` / `ThrottledError`: nothing was published; retry later (`retry_after`).
- `PermanentError`: this post will never go out as it is.
- `CredentialsError`: the channel itself is broken (token, permission, account package);
  pause the channel and alert a human.
- `AmbiguousError`: the outcome is unknown; call `reconcile()` before any new attempt.
  `UnverifiedError` is the kind whose service handle is known (a Zalo processing token).

Routing and pacing keys are shared by every channel's settings (`ChannelSettings`); the
publisher reads them, channels only validate them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from syndicator.config import Duration
from syndicator.errors import AmbiguousError
from syndicator.types import Article, Post, PublishResult

Clock = Callable[[], datetime]  # returns an aware UTC datetime
HandleCallback = Callable[[dict[str, Any]], Awaitable[None]]

_QUIET_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CredentialState:
    """The health of a channel's credentials, as `check()` found it."""

    ok: bool
    detail: str
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TokenSet:
    """A rotating token pair (Zalo OA). `refresh_obtained_at` is when this pair was issued."""

    access_token: str
    refresh_token: str
    access_expires_at: datetime | None
    refresh_obtained_at: datetime


class TokenStore(Protocol):
    """Durable storage for rotating tokens; `save` must be committed when it returns."""

    def load(self, channel: str) -> TokenSet | None: ...

    def save(self, channel: str, tokens: TokenSet) -> None: ...


class UnverifiedError(AmbiguousError):
    """Created, but the service has not confirmed it yet: reconcile with `handle`, never re-create."""

    def __init__(self, channel: str, message: str, *, handle: dict[str, Any]) -> None:
        super().__init__(channel, message)
        self.handle = handle


@runtime_checkable
class Channel(Protocol):
    """One configured publishing destination (a Facebook Page, a Zalo OA)."""

    name: str  # the config table name, e.g. "facebook"
    kind: str  # "facebook_page" | "zalo_oa"
    # The highest usage percentage the service last reported (None when it reports none);
    # the publisher slows down above 75 % so the service does not have to throttle it.
    usage_pct: float | None

    @property
    def settings(self) -> ChannelSettings:
        """The validated `[channels.<name>]` table (routing and pacing keys included)."""
        ...

    def render(self, article: Article, settings: Any = None) -> Post:
        """The post for `article`, using `settings` or the channel's own. Pure: no I/O."""
        ...

    async def publish(
        self,
        post: Post,
        *,
        attempt_started_at: datetime,
        on_handle: HandleCallback | None = None,
    ) -> PublishResult:
        """Send the stored payload once. `on_handle` receives a handle to commit before any
        further call (Zalo's processing token); channels without one never call it."""
        ...

    async def reconcile(
        self, post: Post, *, attempt_started_at: datetime, handle: dict[str, Any] | None = None
    ) -> PublishResult | None:
        """Find what an ambiguous attempt published; None when nothing was found."""
        ...

    async def check(self) -> CredentialState:
        """Whether the credentials work; raises TemporaryError when the service is unreachable."""
        ...

    async def update(self, post: Post, external_id: str) -> PublishResult:
        """Replace the live post's text with `post`'s payload (a correction). Idempotent:
        sending the same correction twice leaves the same post, so it may be retried."""
        ...

    async def remove(self, external_id: str) -> bool:
        """Take the live post down; False when the service says it is already gone.
        Idempotent, so an unknown outcome is settled by asking again."""
        ...


class ChannelSettings(BaseModel):
    """Keys every channel table has: routing, pacing and link tracking.

    Routing: an article goes to the channel when its source is not in `exclude_sources`, none
    of its categories is in `exclude_categories`, and (when given) its source is in
    `include_sources` and one of its categories is in `include_categories`. Empty lists do
    not restrict. Exclusion wins over inclusion.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    include_sources: list[str] = []
    include_categories: list[str] = []
    exclude_sources: list[str] = []
    exclude_categories: list[str] = []
    min_interval: Duration | None = None  # at least this long between two posts
    max_per_day: int | None = Field(default=None, ge=1)  # per local (Asia/Ho_Chi_Minh) day
    quiet_hours: str | None = None  # "22:00-06:00": hold posts inside this local window
    utm: dict[str, str] | None = None  # added to the article link, e.g. {utm_source = "zalo"}
    template_dir: str | None = None  # operators' templates; the package defaults fill gaps
    timeout: Duration = timedelta(seconds=30)
    reconcile_window: Duration = timedelta(minutes=10)  # how long the publisher keeps looking

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours_shape(cls, value: str | None) -> str | None:
        if value is not None and not _QUIET_HOURS.match(value.replace(" ", "")):
            raise ValueError('must look like "22:00-06:00" (24-hour local times)')
        return value.replace(" ", "") if value else None

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        """`quiet_hours` as (start, end) local times; start > end means it spans midnight."""
        if not self.quiet_hours:
            return None
        start, end = self.quiet_hours.split("-")
        return time.fromisoformat(start), time.fromisoformat(end)

    def accepts(self, article: Article) -> bool:
        """Whether the routing keys send `article` to this channel (see the class docstring)."""
        if article.source_id in self.exclude_sources:
            return False
        if set(article.categories) & set(self.exclude_categories):
            return False
        if self.include_sources and article.source_id not in self.include_sources:
            return False
        return not self.include_categories or bool(
            set(article.categories) & set(self.include_categories)
        )
