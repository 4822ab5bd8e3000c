"""The config sections that shape what happens after a poll: approval (Telegram, Zalo Bot,
auto-approve rules), publishing, the health server, the network (proxies), security, reports
and the change watch. Split from config.py (which keeps the database, sources, fetch and poll
sections, and the loading); `syndicator.config` re-exports every class, so callers import
from there.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from syndicator.durations import parse_duration
from syndicator.types import CATEGORIES

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AutoApproveRule(_Strict):
    """Approve without a human: articles of `source` (any when omitted) in one of `categories`
    (any when empty). Held (secrecy-marked) articles are never auto-approved."""

    source: str | None = None
    categories: list[str] = []


class ZaloBotSettings(_Strict):
    """[approval.zalo_bot]: the Zalo Bot Platform surface (docs/operations.md, "Zalo Bot")."""

    bot_token: str
    api_base: str = "https://bot-api.zaloplatforms.com"  # older docs: bot-api.zapps.me
    poll_timeout: int = Field(default=30, ge=1, le=60)  # getUpdates long-poll seconds
    webhook_url: str | None = None  # set: webhook mode instead of long polling
    webhook_secret: str | None = None  # sent back as X-Bot-Api-Secret-Token
    webhook_listen: str = "127.0.0.1:8787"  # where the receiver listens (behind the proxy)
    send_interval: Duration = timedelta(seconds=1)  # at most one message per this to a chat

    @model_validator(mode="after")
    def _webhook_pair(self) -> ZaloBotSettings:
        if self.webhook_url:
            # The platform accepts secrets of 8-256 characters (openclaw docs/channels/zalo.md).
            if not self.webhook_secret or not 8 <= len(self.webhook_secret) <= 256:
                raise ValueError("webhook_url needs webhook_secret of 8-256 characters")
            if not re.match(r"^https://|^http://(127\.0\.0\.1|localhost)[:/]", self.webhook_url):
                raise ValueError("webhook_url must be https:// (Zalo calls only HTTPS webhooks)")
        return self


class ApprovalSettings(_Strict):
    mode: Literal["manual", "auto", "telegram"] = "manual"
    # Where staff decide: "telegram", "zalo_bot" or both; mode = "telegram" implies "telegram".
    surfaces: list[Literal["telegram", "zalo_bot"]] = []
    zalo_bot: ZaloBotSettings | None = None
    auto_approve: list[AutoApproveRule] = []
    # Telegram (mode = "telegram")
    bot_token: str | None = None
    chat_id: int | None = None  # the staff group
    admin_chat_id: int | None = None  # alerts; defaults to chat_id
    approvers: list[int] = []  # Telegram user ids who may decide
    admins: list[int] = []  # may also pause/resume/retry
    api_base: str = "https://api.telegram.org/bot"
    file_base: str | None = None  # defaults to api_base with /bot replaced by /file/bot
    remind_after: Duration = timedelta(hours=2)
    expire_after: Duration = timedelta(hours=48)
    urgent_categories: list[str] = []
    urgent_keywords: list[str] = ["thiên tai", "bão", "lũ", "dịch bệnh", "khẩn cấp"]
    urgent_remind_after: Duration = timedelta(minutes=20)
    send_interval: Duration = timedelta(seconds=1)  # at most one message per this to a chat
    # Telegram: about 20 new messages per minute per group (api-notes 3.8, PTB FloodLimit)
    group_limit: int = Field(default=20, ge=1, le=100)
    group_window: Duration = timedelta(minutes=1)
    poll_timeout: int = Field(default=10, ge=0, le=50)  # getUpdates long-poll seconds
    heartbeat: str | None = Field(  # "08:00": a daily heartbeat to the admin chat; off when unset
        default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$"
    )
    verify_every: Duration = timedelta(hours=1)  # audit-chain check; a break alerts the admins

    @model_validator(mode="after")
    def _telegram_needs(self) -> ApprovalSettings:
        if "telegram" in self.active_surfaces:
            missing = [k for k in ("bot_token", "chat_id") if getattr(self, k) in (None, "")]
            if missing:
                raise ValueError(f'mode = "telegram" needs {", ".join(missing)}')
            if not self.approvers:
                raise ValueError('mode = "telegram" needs approvers (Telegram user ids)')
        if "zalo_bot" in self.surfaces and self.zalo_bot is None:
            raise ValueError('surfaces = ["zalo_bot"] needs an [approval.zalo_bot] table')
        if self.surfaces and self.mode == "auto":
            raise ValueError('surfaces are for human approval; mode = "auto" never asks anyone')
        return self

    @property
    def active_surfaces(self) -> tuple[str, ...]:
        """The approval surfaces to run: `surfaces`, plus "telegram" when mode says so."""
        out = list(self.surfaces)
        if self.mode == "telegram" and "telegram" not in out:
            out.insert(0, "telegram")
        return tuple(out)

    @property
    def alert_chat_id(self) -> int | None:
        return self.admin_chat_id if self.admin_chat_id is not None else self.chat_id


class PublishingSettings(_Strict):
    interval: Duration = timedelta(seconds=2)  # how often the publisher looks for due posts
    max_attempts: int = Field(default=10, ge=1)  # temporary failures before a post fails
    retry_initial: Duration = timedelta(seconds=2)
    retry_max: Duration = timedelta(minutes=5)
    in_call_retries: int = Field(default=3, ge=1)  # quick retries inside one attempt (tenacity)
    reconcile_delay: Duration = timedelta(seconds=30)  # between two reconcile checks
    reconcile_checks: int = Field(default=2, ge=1)  # checks that find nothing before a re-send
    max_article_age: Duration = timedelta(
        days=3
    )  # older articles get no posts (first-poll backlog)
    pause_between: Duration = timedelta(seconds=1)  # between two posts to one channel


class ServerSettings(_Strict):
    listen: str | None = None  # "127.0.0.1:9464": /healthz and /metrics; off when unset
    max_poll_age: Duration = timedelta(minutes=30)  # /healthz fails when the last poll is older
    # /healthz fails when an approved post has been due this long on a channel free to publish
    max_approved_wait: Duration = timedelta(minutes=30)


class NetworkSettings(_Strict):
    # "http://proxy.local:3128": every outbound call (feeds, Graph, Zalo, Zalo OAuth, Telegram)
    # goes through it; NO_PROXY still exempts hosts. Unset: HTTPS_PROXY/HTTP_PROXY apply.
    proxy: str | None = None

    @field_validator("proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not re.match(r"^https?://[^\s/]+", value.strip()):
            raise ValueError(
                f'{value!r} is not an http(s) proxy URL (e.g. "http://proxy.local:3128")'
            )
        return value.strip()


class SecuritySettings(_Strict):
    # Without SYNDICATOR_SECRET_KEY, storing a token is refused unless this says plain is fine.
    allow_plaintext_tokens: bool = False


_CATEGORY_KEYS = CATEGORIES  # shared/domain.md, defined once in syndicator/types.py


def _known_categories(value: list[str]) -> list[str]:
    unknown = [k for k in value if k not in _CATEGORY_KEYS]
    if unknown:
        raise ValueError(f"unknown category key(s) {unknown}; known: {', '.join(_CATEGORY_KEYS)}")
    return value


class ReportSettings(_Strict):
    """`[reports]`: what each agency is expected to publish, and the weekly report's time."""

    # Nghị định 43 categories an agency should publish in every period (all but tin_tuc).
    expected_categories: list[str] = [k for k in _CATEGORY_KEYS if k != "tin_tuc"]
    expected_by_source: dict[str, list[str]] = {}  # source id -> its own expected list
    weekly: str | None = Field(  # "MON 08:00": last week's report to the staff chat; off unset
        default=None, pattern=r"^(MON|TUE|WED|THU|FRI|SAT|SUN) ([01]\d|2[0-3]):[0-5]\d$"
    )

    @field_validator("expected_categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        return _known_categories(value)

    @field_validator("expected_by_source")
    @classmethod
    def _per_source(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for keys in value.values():
            _known_categories(keys)
        return value


class WatchSettings(_Strict):
    """`[watch]`: published articles are watched for changes and withdrawals (issue 12.6)."""

    days: int = Field(default=7, ge=0)  # how long after publication; 0 turns watching off
    check_every: Duration = timedelta(hours=6)  # how often each article's URL is followed
    interval: Duration = timedelta(minutes=1)  # how often the watcher looks at the articles
    # A change of more than this share of the text's words (or of the title) alerts the staff.
    threshold: float = Field(default=0.05, gt=0, lt=1)
