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
from typing import Any, Literal

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from syndicator.config_sections import (
    ApprovalSettings,
    AutoApproveRule,
    Duration,
    NetworkSettings,
    PublishingSettings,
    ReportSettings,
    SecuritySettings,
    ServerSettings,
    WatchSettings,
    ZaloBotSettings,
    _Strict,
)
from syndicator.errors import ConfigError

DEFAULT_CONFIG_PATH = "syndicator.toml"
CONFIG_ENV = "SYNDICATOR_CONFIG"
DEFAULT_DATABASE_URL = "sqlite:///var/syndicator.db"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SOURCE_ID = re.compile(r"^[a-z0-9_-]+$")


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
    # Worker processes that parse, normalise and classify whole documents (a first poll, a new
    # source) on another core; 0 does it in the daemon's process. Unset: 1 when the machine has
    # a second core (syndicator/parse_workers.py, docs/benchmarks.md).
    parse_processes: int | None = Field(default=None, ge=0, le=16)


class LoggingSettings(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


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


__all__ = [  # the sections moved to config_sections.py are re-exported from here
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_DATABASE_URL",
    "ApprovalSettings",
    "AutoApproveRule",
    "DatabaseSettings",
    "Duration",
    "FetchSettings",
    "JsonMapping",
    "LoggingSettings",
    "NetworkSettings",
    "PollSettings",
    "PublishingSettings",
    "ReportSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "SourceSettings",
    "WatchSettings",
    "ZaloBotSettings",
    "config_path",
    "key_path",
    "load_config",
    "parse_config",
    "resolve_paths",
]
