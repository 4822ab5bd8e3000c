"""TOML → typed, validated settings.

Errors name the exact key (`sources[2].url: ...`). `${ENV_VAR}` is substituted in every string
before validation, so secrets stay out of the file; an unset variable is an error naming it.
There is no global settings object: `load_config()` returns a `Settings` that the composition
root passes on.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from syndicator.durations import parse_duration
from syndicator.errors import ConfigError
from syndicator.types import CATEGORIES

DEFAULT_CONFIG_PATH = "syndicator.toml"
CONFIG_ENV = "SYNDICATOR_CONFIG"
DEFAULT_DATABASE_URL = "sqlite:///var/syndicator.db"

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SOURCE_ID = re.compile(r"^[a-z0-9_-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Strict):
    url: str = DEFAULT_DATABASE_URL
    busy_timeout: Duration = timedelta(seconds=30)

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value


class JsonMapping(_Strict):
    """Dotted paths into a JSON document (`data.items`, `media.0.url`)."""

    items: str = "items"
    id: str = "id"
    title: str = "title"
    url: str = "url"
    summary: str | None = "summary"
    content: str | None = "content"
    image: str | None = "image"
    published: str | None = "published_at"
    category: str | None = "category"


class SourceSettings(_Strict):
    id: str
    name: str | None = None
    agency: str | None = None
    kind: Literal["rss", "json"] = "rss"
    url: str
    interval: Duration = timedelta(minutes=5)
    enabled: bool = True
    mapping: JsonMapping | None = None

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _SOURCE_ID.match(value):
            raise ValueError("must be lower-case letters, digits, '_' or '-' (e.g. \"so-tc\")")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.strip()

    @field_validator("interval")
    @classmethod
    def _sane_interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=10):
            raise ValueError("must be at least 10 seconds; portals should not be hammered")
        return value

    @model_validator(mode="after")
    def _mapping_for_json(self) -> SourceSettings:
        if self.kind == "json" and self.mapping is None:
            object.__setattr__(self, "mapping", JsonMapping())
        if self.kind == "rss" and self.mapping is not None:
            raise ValueError('mapping is only for kind = "json" sources')
        return self

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def agency_name(self) -> str:
        return self.agency or self.name or self.id


class FetchSettings(_Strict):
    user_agent: str = (
        "syndicator/0.1 (+provincial portal syndication; contact the Department of "
        "Information and Communications)"
    )
    connect_timeout: Duration = timedelta(seconds=10)
    read_timeout: Duration = timedelta(seconds=30)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=1024)
    concurrency: int = Field(default=20, ge=1, le=500)
    per_host: int = Field(default=4, ge=1, le=100)
    transport: Literal["aiohttp", "httpx"] = "aiohttp"
    # Total time for one source's fetch and parse, on top of the connect/read timeouts: a
    # portal that drips one byte every few seconds never trips a read timeout.
    deadline: Duration = timedelta(seconds=60)

    @field_validator("deadline")
    @classmethod
    def _sane_deadline(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1 second")
        return value


class PollSettings(_Strict):
    jitter: float = Field(default=0.1, ge=0, le=0.5)  # fraction of the interval
    max_backoff: Duration = timedelta(hours=6)
    unhealthy_after: int = Field(default=5, ge=1)  # consecutive errors before the alert event
    # New articles stored per source per poll; the rest wait for the next poll (a compromised
    # portal adding thousands of items must not become thousands of previews at once).
    max_new_per_poll: int = Field(default=50, ge=1)


class LoggingSettings(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


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


class Settings(_Strict):
    database: DatabaseSettings = DatabaseSettings()
    sources: list[SourceSettings] = []
    fetch: FetchSettings = FetchSettings()
    poll: PollSettings = PollSettings()
    logging: LoggingSettings = LoggingSettings()
    classification: dict[str, Any] = {}
    # Each table is validated by its channel module (channels.parse_channel_settings) when the
    # composition root builds the channels, so syndicator/ never imports channels/.
    channels: dict[str, dict[str, Any]] = {}
    approval: ApprovalSettings = ApprovalSettings()
    publishing: PublishingSettings = PublishingSettings()
    server: ServerSettings = ServerSettings()
    network: NetworkSettings = NetworkSettings()
    security: SecuritySettings = SecuritySettings()
    reports: ReportSettings = ReportSettings()
    watch: WatchSettings = WatchSettings()

    @model_validator(mode="after")
    def _unique_source_ids(self) -> Settings:
        seen: set[str] = set()
        for source in self.sources:
            if source.id in seen:
                raise ValueError(f"duplicate source id {source.id!r}")
            seen.add(source.id)
        unknown = sorted(set(self.reports.expected_by_source) - seen)
        if unknown:
            raise ValueError(f"reports.expected_by_source: no source with id {unknown[0]!r}")
        return self

    def source(self, source_id: str) -> SourceSettings:
        for source in self.sources:
            if source.id == source_id:
                return source
        raise ConfigError(f"no source with id {source_id!r} in the config")


def config_path(explicit: str | None = None) -> Path:
    """The config file: --config, else $SYNDICATOR_CONFIG, else ./syndicator.toml."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def load_config(path: str | Path, env: dict[str, str] | None = None) -> Settings:
    """Read, substitute and validate a config file; raise ConfigError naming the bad key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"config file {path} not found (use --config PATH or set {CONFIG_ENV}; "
            "config/syndicator.example.toml documents every key)"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return resolve_paths(parse_config(raw, env=env, origin=str(path)), path.parent)


def resolve_paths(settings: Settings, base: Path) -> Settings:
    """A relative SQLite path (`sqlite:///var/x.db`) is relative to the config file, not to
    whatever directory a command runs from (which would silently create a new, empty database)."""
    url = settings.database.url
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return settings
    name, _, query = url[len(prefix) :].partition("?")
    if not name or name == ":memory:" or name.startswith(("/", "~")):
        return settings
    absolute = (base.absolute() / name).resolve()
    resolved = f"{prefix}{absolute}" + (f"?{query}" if query else "")
    database = settings.database.model_copy(update={"url": resolved})
    return settings.model_copy(update={"database": database})


def parse_config(
    raw: dict[str, Any], env: dict[str, str] | None = None, origin: str = "config"
) -> Settings:
    """Validate an already-parsed TOML document."""
    data = _substitute(raw, os.environ if env is None else env, ())
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{origin}: " + "; ".join(_describe(err, data) for err in exc.errors())
        ) from exc


def key_path(loc: tuple[Any, ...]) -> str:
    """('sources', 2, 'url') → 'sources[2].url'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _describe(err: Any, data: dict[str, Any]) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key (check the spelling against config/syndicator.example.toml)"
    elif err["type"] == "missing":
        message = "required key is missing"
    where = key_path(loc) or "(top level)"
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        sources = data.get("sources") or []
        if loc[1] < len(sources) and isinstance(sources[loc[1]], dict) and "id" in sources[loc[1]]:
            where += f" (source {sources[loc[1]]['id']!r})"
    return f"{where}: {message}"


def _substitute(value: Any, env: Any, loc: tuple[Any, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, env, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env, (*loc, i)) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(f"{key_path(loc)}: environment variable {name} is not set")
            return str(env[name])

        return _ENV_REF.sub(lookup, value)
    return value
