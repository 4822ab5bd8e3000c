"""check-config warnings: valid settings that would publish without a human."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomli_w

from syndicator.cli import main as cli_main
from syndicator.config import parse_config
from syndicator.config_warnings import config_warnings

SOURCES = [{"id": "portal", "url": "https://portal.example.gov.vn/rss"},
           {"id": "so-tc", "url": "https://stc.example.gov.vn/rss"}]  # fmt: skip


def raw(**approval: Any) -> dict[str, Any]:
    return {"sources": SOURCES, "approval": {"mode": "manual", **approval}}


CASES = [
    # (name, approval keys, expected fragments; [] = no warning)
    ("manual, no rules", {}, []),
    ("narrow rule", {"auto_approve": [{"source": "so-tc", "categories": ["dau_thau_mua_sam"]}]},
     []),
    ("auto mode", {"mode": "auto"}, ['approval.mode = "auto": every article of every source']),
    ("rule without categories", {"auto_approve": [{"source": "portal"}]},
     ["approval.auto_approve[0]: no categories, so every article of source 'portal'"]),
    ("rule without anything", {"auto_approve": [{}]},
     ["approval.auto_approve[0]: no categories, so every article of every source"]),
    ("the default category", {"auto_approve": [{"source": "portal", "categories": ["tin_tuc"]}]},
     ["includes 'tin_tuc', the category of every article no keyword matches"]),
    ("category from every source", {"auto_approve": [{"categories": ["hoi_dap"]}]},
     ["approval.auto_approve[0]: no source, so articles of these categories from every source"]),
    ("unknown source", {"auto_approve": [{"source": "nope"}]},
     ["source 'nope' is not in [[sources]]"]),
    ("unknown category", {"auto_approve": [{"source": "portal", "categories": ["tin-tuc"]}]},
     ["unknown categories ['tin-tuc']"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("approval", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_warnings(approval: dict[str, Any], expected: list[str]) -> None:
    """Each risky setting gets one sentence naming its key; safe settings get none."""
    found = config_warnings(parse_config(raw(**approval)))
    assert len(found) == len(expected)
    for fragment, warning in zip(expected, found, strict=True):
        assert fragment in warning


def test_check_config_prints_warnings_and_keeps_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check-config` prints `warning: ...` lines on stderr and still exits 0."""
    config = tmp_path / "syndicator.toml"
    config.write_text(tomli_w.dumps(raw(auto_approve=[{"source": "portal"}])), encoding="utf-8")
    assert cli_main(["--config", str(config), "check-config"]) == 0
    out = capsys.readouterr()
    assert "config OK" in out.out
    (line,) = out.err.splitlines()
    assert line.startswith("warning: approval.auto_approve[0]: no categories")
