"""Entity declarations in feeds: decoded first, then kept only when they are plainly harmless.

XML entity expansion is how small documents become huge ones ("billion laughs": nested
references; one entity referenced millions of times) and how a parser is made to read local
files (external entities, XXE). feedparser filters declarations with line-anchored regular
expressions over the bytes, which issue 10 showed bypassed three ways: a UTF-16 document (the
bytes of "<!ENTITY" differ), a DTD written on one line, and a "<" inside an entity value (it
ends feedparser's notion of the prolog early, so later declarations reach expat untouched):
911 MB of memory and a 30,000,000-character title.

So the document is decoded exactly as feedparser decodes it (its own `convert_to_utf8`: HTTP
charset, XML declaration, BOM, UTF-16/32 sniffing), and the DOCTYPE is read with a small
quote-aware scanner over the decoded text. Only *simple* internal entities survive: a literal
value without "&", "%" or "<" (no nesting possible), short, few, and with a bounded total
expansion. Anything else (parameter entities, SYSTEM/PUBLIC, nested values, too much
expansion) refuses the whole document with an error that says why. Real portal feeds carry
no DTD at all; the feedparser fixture `entity_in_doctype` shows the simple kind still works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from feedparser.encodings import convert_to_utf8

MAX_ENTITIES = 32
MAX_ENTITY_VALUE = 256  # characters of one entity's replacement text
MAX_EXPANSION = 256 * 1024  # characters all references together may add to the document

_DOCTYPE = b"<!DOCTYPE"
_NAME = re.compile(rb"\s*([A-Za-z_:][\w.:-]*)")
_ENTITY = re.compile(rb"<!ENTITY\s+(%\s+)?([A-Za-z_:][\w.:-]*)\s+(.*?)\s*>\Z", re.DOTALL)
_SIMPLE_VALUE = re.compile(rb"""\A(?:"([^"&%<]*)"|'([^'"&%<]*)')\Z""")


class RefusedDocument(Exception):
    """The document declares entities that could expand it or read files: not parsed."""


def guard_entities(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """The document and headers feedparser should see; RefusedDocument when it is refused.

    Without a DOCTYPE (nearly every feed) the original bytes and headers come back unchanged.
    With one, the decoded UTF-8 document comes back with its DOCTYPE rebuilt to hold only the
    simple entities, each on its own line (the form feedparser's own filter keeps), and the
    headers say charset=utf-8 so it is not decoded twice.
    """
    out_headers = dict(headers)
    # Fast path: ASCII-compatible bytes that never spell the words hold no declaration once
    # decoded either. UTF-16/32 carry NUL bytes and EBCDIC is sniffed (_ebcdic), so both take
    # the slow path; UTF-7 spells the letters in ASCII, so it does too when it matters.
    plain = b"DOCTYPE" not in body and b"ENTITY" not in body and b"\x00" not in body
    if plain and not _ebcdic(body):
        return body, out_headers
    text = convert_to_utf8(dict(headers), body, {})
    start = text.find(_DOCTYPE)
    if start < 0:
        return body, out_headers  # "<!ENTITY" outside a DOCTYPE is text or a syntax error
    end, head, subset = _scan_doctype(text, start)
    if subset is None:
        return body, out_headers  # an external DTD only, never fetched (RSS 0.91's)
    entities = _simple_entities(subset)
    rest = text[end:]
    added = sum(
        rest.count(b"&" + key + b";") * max(0, len(value) - len(key) - 2)
        for key, value in entities.items()
    )
    if added > MAX_EXPANSION:
        raise RefusedDocument(
            f"refused: entity references would add {added:,} characters "
            f"(limit {MAX_EXPANSION:,}); an entity-expansion bomb"
        )
    declarations = b"".join(b'\n<!ENTITY %s "%s">' % (k, v) for k, v in entities.items())
    doctype = head.rstrip() + (b" [" + declarations + b"\n]>" if entities else b">")
    content_type = out_headers.pop("content-type", "application/xml")
    mime = content_type.split(";", 1)[0].strip() or "application/xml"
    out_headers["content-type"] = f"{mime}; charset=utf-8"
    return text[:start] + doctype + rest, out_headers


def _ebcdic(body: bytes) -> bool:
    """feedparser decodes documents starting with EBCDIC "<?xm" as cp037."""
    return body.startswith(b"\x4c\x6f\xa7\x94")


def _scan_doctype(text: bytes, start: int) -> tuple[int, bytes, bytes | None]:
    """(end offset, text before the internal subset, the subset or None) of the DOCTYPE.

    Quote-aware: a ">" or "]" inside a quoted literal or a comment does not end anything.
    """
    match = _NAME.match(text, start + len(_DOCTYPE))
    if match is None:
        raise RefusedDocument("refused: a DOCTYPE without a root element name")
    i, n = match.end(), len(text)
    head, subset = b"", None
    while i < n:
        c = text[i : i + 1]
        if c in (b'"', b"'"):
            close = text.find(c, i + 1)
            if close < 0:
                break
            i = close + 1
        elif c == b"[" and subset is None:
            close = _subset_end(text, i + 1)
            if close < 0:
                break
            head, subset = text[start:i], text[i + 1 : close]
            i = close + 1
        elif c == b">":
            return i + 1, head or text[start:i], subset
        else:
            i += 1
    raise RefusedDocument("refused: the DOCTYPE never ends")


def _subset_end(text: bytes, i: int) -> int:
    """Offset of the "]" that closes an internal subset starting at `i`, or -1."""
    n = len(text)
    while i < n:
        if text.startswith(b"<!--", i):
            close = text.find(b"-->", i + 4)
            i = -1 if close < 0 else close + 3
        elif text[i : i + 1] in (b'"', b"'"):
            close = text.find(text[i : i + 1], i + 1)
            i = -1 if close < 0 else close + 1
        elif text[i : i + 1] == b"]":
            return i
        else:
            i += 1
        if i < 0:
            return -1
    return -1


def _declarations(subset: bytes) -> list[bytes]:
    """The markup declarations of an internal subset ("<!ENTITY ...>", ...), comments dropped."""
    out, i, n = [], 0, len(subset)
    while i < n:
        if subset.startswith(b"<!--", i):
            close = subset.find(b"-->", i + 4)
            i = n if close < 0 else close + 3
        elif subset.startswith(b"<!", i) or subset.startswith(b"<?", i):
            j = i + 2
            while j < n and subset[j : j + 1] != b">":
                if subset[j : j + 1] in (b'"', b"'"):
                    close = subset.find(subset[j : j + 1], j + 1)
                    j = n if close < 0 else close
                j += 1
            out.append(subset[i : j + 1])
            i = j + 1
        elif subset[i : i + 1] == b"%":
            raise RefusedDocument("refused: a parameter-entity reference in the DOCTYPE")
        else:
            i += 1
    return out


def _simple_entities(subset: bytes) -> dict[bytes, bytes]:
    """name -> value of the internal entities; RefusedDocument for any that is not simple."""
    entities: dict[bytes, bytes] = {}
    for decl in _declarations(subset):
        if not decl.startswith(b"<!ENTITY"):
            continue  # ELEMENT, ATTLIST, NOTATION, processing instructions: not needed
        match = _ENTITY.match(decl)
        if match is None:
            raise RefusedDocument("refused: an entity declaration that cannot be read")
        percent, key, definition = match.groups()
        label = key.decode("utf-8", "replace")
        if percent:
            raise RefusedDocument(f"refused: parameter entity %{label} in the DOCTYPE")
        value = _SIMPLE_VALUE.match(definition)
        if value is None:
            raise RefusedDocument(
                f"refused: entity {label!r} is external or refers to other entities or markup "
                "(XXE or an entity-expansion bomb)"
            )
        literal = value.group(1) if value.group(1) is not None else value.group(2)
        if len(literal.decode("utf-8", "replace")) > MAX_ENTITY_VALUE:
            raise RefusedDocument(f"refused: entity {label!r} is over {MAX_ENTITY_VALUE} chars")
        entities.setdefault(key, literal)
        if len(entities) > MAX_ENTITIES:
            raise RefusedDocument(f"refused: more than {MAX_ENTITIES} entity declarations")
    return entities
