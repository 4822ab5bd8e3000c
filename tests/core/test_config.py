"""Config loading: exact key paths in errors, env substitution, defaults, CLI exit codes."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from syndicator.config import config_path, load_config, parse_config
from syndicator.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "config" / "syndicator.example.toml"


def test_issue_example_keys_validate() -> None:
    """The keys spelled in the issue load as written."""
    settings = parse_config(
        {
            "database": {"url": "sqlite:///var/syndicator.db"},
            "sources": [
                {
                    "id": "portal",
                    "name": "Cổng TTĐT tỉnh",
                    "agency": "UBND tỉnh",
                    "kind": "rss",
                    "url": "https://example.gov.vn/rss",
                    "interval": "5m",
                },
                {
                    "id": "so-tc",
                    "kind": "json",
                    "url": "https://stc.example.gov.vn/api/public/articles",
                    "interval": 600,
                    "mapping": {
                        "items": "data.items",
                        "id": "id",
                        "title": "title",
                        "url": "url",
                        "summary": "summary",
                        "content": "content",
                        "image": "image",
                        "published": "published_at",
                        "category": "category",
                    },
                },
            ],
        }
    )
    assert settings.sources[0].interval == timedelta(minutes=5)
    assert settings.sources[1].interval == timedelta(minutes=10)
    assert settings.sources[1].mapping is not None
    assert settings.sources[1].mapping.items == "data.items"
    assert settings.sources[0].agency_name == "UBND tỉnh"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {
                "sources": [
                    {"id": "a", "url": "https://a"},
                    {"id": "b", "url": "https://b"},
                    {"id": "c", "url": "not a url"},
                ]
            },
            "sources[2].url (source 'c'): ",
        ),
        ({"sources": [{"id": "Bad Id", "url": "https://a"}]}, "sources[0].id"),
        (
            {"sources": [{"id": "a", "url": "https://a", "interval": "5 phút"}]},
            "sources[0].interval",
        ),
        ({"sources": [{"id": "a", "url": "https://a", "intervall": "5m"}]}, "sources[0].intervall"),
        (
            {"sources": [{"id": "a", "url": "https://a"}, {"id": "a", "url": "https://b"}]},
            "duplicate source id 'a'",
        ),
        ({"sources": [{"id": "a"}]}, "sources[0].url (source 'a'): required key is missing"),
        ({"database": {"url": "mysql://x"}}, "database.url"),
        ({"sources": [{"id": "a", "url": "https://a", "kind": "atom"}]}, "sources[0].kind"),
    ],
)
def test_errors_name_the_exact_key(raw: dict, expected: str) -> None:
    """Each invalid value is reported with its key path."""
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert expected in str(info.value)


def test_env_substitution_and_missing_variable() -> None:
    """${VAR} is replaced; an unset variable is an error naming it and its key."""
    settings = parse_config({"database": {"url": "${DB}"}}, env={"DB": "sqlite:///x.db"})
    assert settings.database.url == "sqlite:///x.db"
    with pytest.raises(ConfigError, match=r"database.url: environment variable NOPE is not set"):
        parse_config({"database": {"url": "${NOPE}"}}, env={})


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    """--config beats $SYNDICATOR_CONFIG, which beats ./syndicator.toml."""
    monkeypatch.delenv("SYNDICATOR_CONFIG", raising=False)
    assert config_path(None) == Path("syndicator.toml")
    monkeypatch.setenv("SYNDICATOR_CONFIG", "/etc/s.toml")
    assert config_path(None) == Path("/etc/s.toml")
    assert config_path("x.toml") == Path("x.toml")


def test_example_config_is_valid() -> None:
    """The shipped example documents keys that actually validate."""
    env = {
        "FB_PAGE_TOKEN": "t" * 20,
        "ZALO_APP_SECRET": "s" * 20,
        "ZALO_REFRESH_TOKEN": "r" * 20,
        "TELEGRAM_BOT_TOKEN": "1:abc",
    }
    settings = load_config(EXAMPLE, env=env)
    assert settings.sources
    import daemon

    channels = daemon.channel_settings(settings)  # the channel tables validate too
    assert set(channels) == {"facebook", "zalo"}
    # A copied example publishes nothing without a human (issue 14): no rule, no warning.
    assert settings.approval.mode == "telegram" and not settings.approval.auto_approve
    from syndicator.config_warnings import config_warnings

    assert config_warnings(settings) == []


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    """Syntax errors and missing files are ConfigErrors with the path."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\nurl = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_cli_bad_config_exits_nonzero_without_touching_database(tmp_path: Path) -> None:
    """A bad config makes every command exit 1 before any database file is created."""
    db = tmp_path / "db.sqlite"
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n[[sources]]\nid = "a"\nurl = "nope"\n',
        encoding="utf-8",
    )
    for command in (["check-config"], ["poll", "--once"], ["articles"], ["audit", "verify"]):
        proc = subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", str(cfg), *command],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr
        assert "sources[0].url" in proc.stderr
    assert not db.exists()


def test_relative_sqlite_path_resolves_against_the_config_file(tmp_path: Path) -> None:
    """`sqlite:///var/x.db` lives beside the config file, whatever the working directory."""
    config = tmp_path / "etc" / "syndicator.toml"
    config.parent.mkdir()
    config.write_text('[database]\nurl = "sqlite:///var/x.db"\n', encoding="utf-8")
    assert load_config(config).database.url == f"sqlite:///{tmp_path}/etc/var/x.db"
    config.write_text('[database]\nurl = "sqlite:////srv/x.db"\n', encoding="utf-8")
    assert load_config(config).database.url == "sqlite:////srv/x.db"
    config.write_text("", encoding="utf-8")  # the default is relative too
    assert load_config(config).database.url == f"sqlite:///{tmp_path}/etc/var/syndicator.db"


def test_new_fetch_and_poll_keys() -> None:
    """[fetch] deadline and [poll] max_new_per_poll: defaults and validation."""
    settings = parse_config({})
    assert settings.fetch.deadline == timedelta(seconds=60)
    assert settings.poll.max_new_per_poll == 50
    with pytest.raises(ConfigError, match=r"fetch.deadline: must be at least 1 second"):
        parse_config({"fetch": {"deadline": "0s"}})
    with pytest.raises(ConfigError, match=r"poll.max_new_per_poll"):
        parse_config({"poll": {"max_new_per_poll": 0}})
