"""Golden-file tests: rendering each case still gives the reviewed payloads byte for byte."""

from __future__ import annotations

import json
import unicodedata

import pytest

from tests.channels.regen_golden_render import CASES, GOLDEN, render_case


@pytest.mark.parametrize("name", sorted(CASES))
def test_render_matches_golden(name: str) -> None:
    """The rendered Facebook and Zalo posts equal the reviewed golden file."""
    expected = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    assert json.loads(json.dumps(render_case(name), ensure_ascii=False)) == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_text_is_nfc_and_within_zalo_limits(name: str) -> None:
    """Every rendered string is NFC and the Zalo fields respect the documented limits."""
    rendered = render_case(name)
    payload = rendered["zalo"]["payload"]
    assert len(payload["title"]) <= 150
    assert len(payload["description"]) <= 300
    assert len(payload["author"]) <= 50
    text = json.dumps(rendered, ensure_ascii=False)
    assert unicodedata.is_normalized("NFC", text)


def test_every_golden_file_has_a_case() -> None:
    """No stale golden file is left behind after a case is renamed or removed."""
    assert {path.stem for path in GOLDEN.glob("*.json")} == set(CASES)
