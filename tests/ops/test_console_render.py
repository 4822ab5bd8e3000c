"""Telegram text + entities → the console's HTML: escaped, nested, UTF-16 aware."""

from __future__ import annotations

import pytest

from syndicator.sandbox.console import render_entities
from syndicator.sandbox.telegram_html import parse_html


def from_html(source: str) -> str:
    text, entities = parse_html(source)
    return render_entities(text, entities)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("plain &lt;b&gt; text", "plain &lt;b&gt; text"),
        ("<b>Đậm</b> và <i>nghiêng</i>", "<b>Đậm</b> và <i>nghiêng</i>"),
        ("<b>a <i>b</i> c</b>", "<b>a </b><b><i>b</i></b><b> c</b>"),
        ("😀 <b>sau emoji</b>", "😀 <b>sau emoji</b>"),
        ("dòng 1\ndòng 2", "dòng 1<br>dòng 2"),
        (
            '<a href="https://portal.example.gov.vn/?a=1&amp;b=2">bài "gốc"</a>',
            '<a href="https://portal.example.gov.vn/?a=1&amp;b=2" target="_blank" '
            'rel="noopener noreferrer">bài &quot;gốc&quot;</a>',
        ),
    ],
)
def test_render_entities_table(source: str, expected: str) -> None:
    """Each Telegram-HTML message renders to the expected safe HTML."""
    assert from_html(source) == expected


def test_unsafe_link_schemes_become_plain_text() -> None:
    """A javascript: URL in a text_link entity never becomes a clickable link."""
    html = render_entities("bấm", [{"type": "text_link", "offset": 0, "length": 3,
                                    "url": "javascript:alert(1)"}])  # fmt: skip
    assert html == "bấm"
