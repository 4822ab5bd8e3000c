"""Channel settings: validation messages, routing, templates and the channel registry."""

from __future__ import annotations

import filecmp
from datetime import time, timedelta
from pathlib import Path

import httpx
import pytest

from channels import (
    Channel,
    FacebookPage,
    ZaloOA,
    build_channel,
    parse_channel_settings,
)
from channels.render_common import PACKAGE_TEMPLATES, template_environment
from syndicator.errors import ConfigError
from tests.channels.conftest import MemoryTokenStore, make_article

ROOT = Path(__file__).resolve().parents[2]
FACEBOOK = {"kind": "facebook_page", "page_id": "1", "access_token": "t"}
ZALO = {
    "kind": "zalo_oa",
    "app_id": "1",
    "secret_key": "s",
    "refresh_token": "r",
    "default_cover_url": "https://example.gov.vn/logo.jpg",
}


def test_missing_key_is_named() -> None:
    """A missing required key is reported with its full path."""
    with pytest.raises(ConfigError, match=r"channels\.facebook\.page_id: required key is missing"):
        parse_channel_settings("facebook", {"kind": "facebook_page", "access_token": "t"})


def test_unknown_key_and_kind_are_named() -> None:
    """Misspelt keys and unknown kinds fail with the key named."""
    with pytest.raises(ConfigError, match=r"channels\.zalo\.autor: unknown key"):
        parse_channel_settings("zalo", {**ZALO, "autor": "x"})
    with pytest.raises(ConfigError, match=r"channels\.x\.kind: unknown channel kind 'twitter'"):
        parse_channel_settings("x", {"kind": "twitter"})
    with pytest.raises(ConfigError, match=r"channels\.x\.kind: required key is missing"):
        parse_channel_settings("x", {})


def test_durations_and_quiet_hours_parse() -> None:
    """Durations accept text or seconds; quiet hours must be a HH:MM-HH:MM window."""
    settings = parse_channel_settings(
        "facebook", {**FACEBOOK, "min_interval": "5m", "timeout": 10, "quiet_hours": "22:00-06:00"}
    )
    assert settings.min_interval == timedelta(minutes=5)
    assert settings.timeout == timedelta(seconds=10)
    assert settings.quiet_window == (time(22, 0), time(6, 0))
    with pytest.raises(ConfigError, match=r"channels\.facebook\.quiet_hours: must look like"):
        parse_channel_settings("facebook", {**FACEBOOK, "quiet_hours": "10pm-6am"})


def test_zalo_author_limit_is_checked() -> None:
    """An author longer than Zalo's 50 characters is a config error, not a failed post."""
    with pytest.raises(ConfigError, match=r"channels\.zalo\.author"):
        parse_channel_settings("zalo", {**ZALO, "author": "x" * 51})


@pytest.mark.parametrize(
    ("routing", "accepted"),
    [
        ({}, True),
        ({"include_sources": ["portal"]}, True),
        ({"include_sources": ["so-tc"]}, False),
        ({"include_categories": ["hoi_dap", "chi_dao_dieu_hanh"]}, True),
        ({"include_categories": ["hoi_dap"]}, False),
        ({"exclude_sources": ["portal"]}, False),
        ({"exclude_categories": ["chi_dao_dieu_hanh"]}, False),
        ({"include_sources": ["portal"], "exclude_categories": ["chi_dao_dieu_hanh"]}, False),
    ],
)
def test_routing_table(routing: dict[str, list[str]], accepted: bool) -> None:
    """Include lists restrict when given, exclusions always win."""
    settings = parse_channel_settings("facebook", {**FACEBOOK, **routing})
    assert settings.accepts(make_article()) is accepted


def test_config_templates_match_package_defaults() -> None:
    """The operator copies in config/templates are identical to the packaged defaults."""
    names = sorted(path.name for path in PACKAGE_TEMPLATES.glob("*.j2"))
    assert names == ["facebook.j2", "zalo.j2"]
    for name in names:
        assert filecmp.cmp(PACKAGE_TEMPLATES / name, ROOT / "config" / "templates" / name, False)


async def test_operator_template_overrides_default(tmp_path: Path) -> None:
    """A template in template_dir wins over the package default of the same name."""
    (tmp_path / "facebook.j2").write_text("{{ title }} — {{ link }}", encoding="utf-8")
    settings = parse_channel_settings("facebook", {**FACEBOOK, "template_dir": str(tmp_path)})
    env = template_environment(str(tmp_path))
    async with httpx.AsyncClient() as client:
        channel = FacebookPage("facebook", settings, client=client, templates=env)  # type: ignore[arg-type]
        post = channel.render(make_article())
    assert post.payload["message"].startswith("UBND tỉnh họp phiên thường kỳ tháng 11 — https://")
    # zalo.j2 is not overridden there, so the default still loads from the package.
    assert env.get_template("zalo.j2").filename.startswith(str(PACKAGE_TEMPLATES))


async def test_build_channel_picks_the_kind() -> None:
    """build_channel returns the channel class that matches `kind`, satisfying the Protocol."""
    async with httpx.AsyncClient() as client:
        facebook = build_channel("facebook", FACEBOOK, client=client)
        zalo = build_channel("zalo", ZALO, client=client, token_store=MemoryTokenStore())
    assert isinstance(facebook, FacebookPage) and isinstance(facebook, Channel)
    assert isinstance(zalo, ZaloOA) and isinstance(zalo, Channel)
    with pytest.raises(ConfigError, match="token store"):
        build_channel("zalo", ZALO, client=client)
