"""Telegram's HTML parse mode, strict enough to catch what the real parser rejects (3.7).

`parse_html` turns HTML into the plain text Telegram stores plus its entities (offsets in
UTF-16 units), or raises `HtmlError` with a message in Telegram's "can't parse entities" style.
It is stricter than Telegram about a bare `>` or `&`, on purpose: escaped text always passes,
and a sandbox that forgives unescaped text would hide the bug until production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
    "tg-time": None,  # shown as plain text by this sandbox
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
ENTITY = re.compile(r"&(?:(lt|gt|amp|quot)|#(\d+)|#[xX]([0-9a-fA-F]+));")
TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
ATTRIBUTE = re.compile(r"\s*([a-zA-Z][a-zA-Z0-9-]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")


class HtmlError(ValueError):
    """The text is not valid Telegram HTML; str() is the description after 'Bad Request: '."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"can't parse entities: {detail}")


@dataclass
class _Open:
    name: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the plain text
    byte_offset: int
    children: list[str] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Return (plain text, entities) for HTML parse mode, or raise HtmlError."""
    out: list[str] = []
    offset = 0  # UTF-16 length of `out`
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(source):
        char = source[i]
        byte_at = len(source[:i].encode())
        if char == "<":
            end = source.find(">", i)
            if end < 0:
                raise HtmlError(f"Unclosed start tag at byte offset {byte_at}")
            tag = source[i + 1 : end]
            if tag.startswith("/"):
                _close(tag[1:].strip().lower(), stack, entities, offset, byte_at)
            else:
                stack.append(_open(tag, stack, offset, byte_at))
            i = end + 1
            continue
        if char == "&":
            match = ENTITY.match(source, i)
            if match is None:
                raise HtmlError(f"Unsupported HTML entity starting at byte offset {byte_at}")
            char = _decode_entity(match)
            i = match.end()
        elif char == ">":
            raise HtmlError(f"Unescaped '>' at byte offset {byte_at}; use &gt;")
        else:
            i += 1
        out.append(char)
        offset += utf16_len(char)
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(out), entities


def _decode_entity(match: re.Match[str]) -> str:
    named, decimal, hexadecimal = match.groups()
    if named:
        return NAMED_ENTITIES[named]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if not 0 < code <= 0x10FFFF:
        raise HtmlError(f"Invalid numeric HTML entity &#{decimal or hexadecimal};")
    return chr(code)


def _open(tag: str, stack: list[_Open], offset: int, byte_at: int) -> _Open:
    match = TAG_NAME.match(tag)
    if match is None:
        raise HtmlError(f"Unsupported start tag at byte offset {byte_at}")
    name = match.group(0).lower()
    if name not in ENTITY_TYPES:
        raise HtmlError(f'Unsupported start tag "{name}" at byte offset {byte_at}')
    attrs = _attributes(tag[match.end() :].rstrip("/"), byte_at)
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {byte_at}')
    parent = stack[-1] if stack else None
    if parent and parent.name in ("code", "pre") and not (parent.name == "pre" and name == "code"):
        raise HtmlError(f'Entity "{name}" can\'t be inside "{parent.name}" at byte {byte_at}')
    if name == "blockquote" and any(open_.name == "blockquote" for open_ in stack):
        raise HtmlError(f"Blockquotes can't be nested at byte offset {byte_at}")
    return _Open(name, attrs, offset, byte_at)


def _attributes(text: str, byte_at: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    position = 0
    while text[position:].strip():
        match = ATTRIBUTE.match(text, position)
        if match is None or match.end() == position:
            raise HtmlError(f"Can't parse tag attributes at byte offset {byte_at}")
        value = match.group(2) or ""
        if value[:1] in "\"'":
            value = value[1:-1]
        attrs[match.group(1).lower()] = ENTITY.sub(_decode_entity, value)
        position = match.end()
    return attrs


def _close(
    name: str, stack: list[_Open], entities: list[dict[str, Any]], offset: int, byte_at: int
) -> None:
    if not stack:
        raise HtmlError(f'Unexpected end tag "{name}" at byte offset {byte_at}')
    opened = stack.pop()
    if opened.name != name:
        raise HtmlError(
            f'Unmatched end tag at byte offset {byte_at}, expected "</{opened.name}>", '
            f'found "</{name}>"'
        )
    kind = ENTITY_TYPES[name]
    length = offset - opened.start
    if kind is None or length == 0:
        return
    entity: dict[str, Any] = {"type": kind, "offset": opened.start, "length": length}
    if name == "a":
        href = opened.attrs.get("href", "")
        if not href:
            return  # Telegram shows a link without href as plain text
        entity["url"] = href
    elif name == "blockquote" and "expandable" in opened.attrs:
        entity["type"] = "expandable_blockquote"
    elif name == "tg-emoji":
        entity["custom_emoji_id"] = opened.attrs.get("emoji-id", "")
    elif name == "code" and stack and stack[-1].name == "pre":
        language = opened.attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].attrs["language"] = language[len("language-") :]
        return  # the enclosing pre carries the entity
    elif name == "pre" and opened.attrs.get("language"):
        entity["language"] = opened.attrs["language"]
    entities.append(entity)
