"""Sorting articles into the directive's categories, and flagging secret or urgent ones.

Pure: rules in, article in, article out. The keyword lists live in
`syndicator/defaults/classification.toml` and the config's `[classification]` table.

Categories come, in order of trust, from the portal's own section name, the URL's directories,
then keywords in the title and summary. All matches are kept (first = most trusted);
`tin_tuc` is the answer when nothing matched.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from syndicator.errors import ConfigError
from syndicator.types import CATEGORIES, Article, Flag

DEFAULT_CATEGORY = "tin_tuc"
DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "defaults" / "classification.toml"
# Secrecy stamps sit at the top of a document; deeper in the body "MẬT" is prose.
MARKER_HEAD_CHARS = 300
# Words that turn "mật" into ordinary vocabulary: bí mật (secret, in prose about secrets),
# mật khẩu (password), mật ong (honey), mật mã (cipher), mật độ (density), mật thiết (close).
_NOT_A_STAMP_BEFORE = {"bí"}
_NOT_A_STAMP_AFTER = {"khẩu", "ong", "mã", "độ", "thiết"}
_SECRECY_LABEL = re.compile(r"độ\s+mật\s*[:：]\s*(tuyệt\s+mật|tối\s+mật|mật)", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class ClassifierRules:
    """Keyword lists per category, URL directory hints, portal section aliases and markers."""

    keywords: Mapping[str, tuple[str, ...]]
    url_paths: Mapping[str, tuple[str, ...]]
    aliases: Mapping[str, tuple[str, ...]]
    secrecy_markers: tuple[str, ...]
    urgent_keywords: tuple[str, ...]

    @classmethod
    def defaults(cls) -> ClassifierRules:
        """The rules shipped in syndicator/defaults/classification.toml."""
        return _default_rules()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ClassifierRules:
        """Merge a config `[classification]` table over the defaults (per category, replacing)."""
        return _build(data, base=cls.defaults(), where="classification")

    def __reduce__(self) -> tuple[Any, ...]:
        # Sent once to each parse worker process (sources/prepare.py); a mappingproxy cannot
        # be pickled, so the tables travel as dicts and are wrapped again on arrival.
        tables = (dict(self.keywords), dict(self.url_paths), dict(self.aliases))
        return (_rules_from_plain, (*tables, self.secrecy_markers, self.urgent_keywords))


def _rules_from_plain(
    keywords: dict[str, tuple[str, ...]],
    url_paths: dict[str, tuple[str, ...]],
    aliases: dict[str, tuple[str, ...]],
    secrecy_markers: tuple[str, ...],
    urgent_keywords: tuple[str, ...],
) -> ClassifierRules:
    return ClassifierRules(
        keywords=MappingProxyType(keywords),
        url_paths=MappingProxyType(url_paths),
        aliases=MappingProxyType(aliases),
        secrecy_markers=secrecy_markers,
        urgent_keywords=urgent_keywords,
    )


@functools.cache
def _default_rules() -> ClassifierRules:
    # A path next to the package rather than importlib.resources: the editable install makes
    # `syndicator` a namespace package, which resources.files() cannot read from.
    text = DEFAULTS_FILE.read_text(encoding="utf-8")
    return _build(tomllib.loads(text), base=None, where="defaults/classification.toml")


def _build(data: Mapping[str, Any], *, base: ClassifierRules | None, where: str) -> ClassifierRules:
    known = {"keywords", "url_paths", "aliases", "secrecy_markers", "urgent_keywords"}
    # A typed config model dumps unset options as None: treat them as absent.
    data = {k: v for k, v in data.items() if v is not None}
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown setting (expected one of {sorted(known)})")
    tables: dict[str, Mapping[str, tuple[str, ...]]] = {}
    for name in ("keywords", "url_paths", "aliases"):
        merged = dict(getattr(base, name)) if base else {}
        table = data.get(name, {})
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}.{name}: expected a table of category = [words]")
        for category, words in table.items():
            if category not in CATEGORIES:
                raise ConfigError(f"{where}.{name}.{category}: unknown category")
            merged[category] = _strings(words, f"{where}.{name}.{category}")
        tables[name] = MappingProxyType(merged)
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("secrecy_markers", "urgent_keywords"):
        if name in data:
            lists[name] = _strings(data[name], f"{where}.{name}")
        else:
            lists[name] = getattr(base, name) if base else ()
    return ClassifierRules(
        keywords=tables["keywords"],
        url_paths=tables["url_paths"],
        aliases=tables["aliases"],
        secrecy_markers=lists["secrecy_markers"],
        urgent_keywords=lists["urgent_keywords"],
    )


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(unicodedata.normalize("NFC", v.strip()) for v in value if v.strip())


# --- matching ---------------------------------------------------------------------------------


def words(text: str) -> str:
    """NFC, case-folded, punctuation removed, single spaces: the form keywords compare in."""
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFC", text).casefold()).split())


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {ord("đ"): "d", ord("Đ"): "D"}
    for code in range(0x00C0, 0x1F00):
        char = chr(code)
        base = "".join(
            c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
        )
        if base != char and base:
            table[code] = base
    return table


# A translate table is ~20x faster than NFD + filtering per character, and classification runs
# on every entry of every changed feed.
_FOLD = _fold_table()


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese diacritics (and đ -> d) so unaccented text can still be matched."""
    folded = unicodedata.normalize("NFC", text).translate(_FOLD)
    if folded.isascii():
        return folded
    return "".join(c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c))


@functools.lru_cache(maxsize=4096)
def _keyword_forms(keyword: str) -> tuple[str, str]:
    plain = words(keyword)
    return plain, strip_diacritics(plain)


class _Text:
    """A text prepared once for many keyword lookups."""

    def __init__(self, text: str) -> None:
        self.plain = f" {words(text)} "
        self._folded: str | None = None

    @property
    def folded(self) -> str:
        if self._folded is None:
            self._folded = f" {strip_diacritics(self.plain)} "
        return self._folded

    @functools.cached_property
    def accented(self) -> bool:
        return self.plain.strip() != self.folded.strip()

    def has(self, keyword: str) -> bool:
        """Whole-word match. Both sides accented: exact, so "bão" (storm) does not match "báo"
        (newspaper). Otherwise (unaccented text or keyword): compare without diacritics."""
        plain, folded = _keyword_forms(keyword)
        if not plain:
            return False
        if self.accented and plain != folded:
            return f" {plain} " in self.plain
        return f" {folded} " in self.folded


# Per keyword table: per category, each keyword as (" plain ", " folded ", accented). Built once
# per table, because _first_hits runs ~50 lookups per entry and the per-call work of has()
# (cache lookup, two f-strings) was most of classify's time (docs/benchmarks.md).
_TABLE_FORMS: dict[int, tuple[Mapping[str, tuple[str, ...]], list[tuple[str, list[Any]]]]] = {}


def _table_forms(table: Mapping[str, tuple[str, ...]]) -> list[tuple[str, list[Any]]]:
    cached = _TABLE_FORMS.get(id(table))
    if cached is not None and cached[0] is table:
        return cached[1]
    forms = []
    for cat in CATEGORIES:
        padded = []
        for keyword in table.get(cat, ()):
            plain, folded = _keyword_forms(keyword)
            if plain:
                padded.append((f" {plain} ", f" {folded} ", plain != folded))
        forms.append((cat, padded))
    if len(_TABLE_FORMS) > 32:
        _TABLE_FORMS.clear()
    _TABLE_FORMS[id(table)] = (table, forms)
    return forms


def _first_hits(text: _Text, table: Mapping[str, tuple[str, ...]]) -> list[str]:
    # The same test as _Text.has, keyword by keyword, on forms prepared once per table.
    exact, plain, folded = text.accented, text.plain, text.folded
    hits = []
    for cat, forms in _table_forms(table):
        for plain_kw, folded_kw, accented_kw in forms:
            if (plain_kw in plain) if (exact and accented_kw) else (folded_kw in folded):
                hits.append(cat)
                break
    return hits


def _url_hits(url: str, table: Mapping[str, tuple[str, ...]]) -> list[str]:
    # Only directories: the last segment is the article's slug, already covered by keywords.
    directories = urlsplit(url).path.split("/")[:-1]
    segments = [f"-{strip_diacritics(s).lower().replace('_', '-')}-" for s in directories if s]
    if not segments:
        return []
    return [
        cat
        for cat, hints in _hint_forms(table)
        if any(hint in seg for hint in hints for seg in segments)
    ]


_HINT_FORMS: dict[int, tuple[Mapping[str, tuple[str, ...]], list[tuple[str, list[str]]]]] = {}


def _hint_forms(table: Mapping[str, tuple[str, ...]]) -> list[tuple[str, list[str]]]:
    """Per category, its URL hints as "-hint-", built once per table (as _table_forms)."""
    cached = _HINT_FORMS.get(id(table))
    if cached is not None and cached[0] is table:
        return cached[1]
    forms = [
        (cat, [f"-{hint.strip('/').lower()}-" for hint in table.get(cat, ())]) for cat in CATEGORIES
    ]
    if len(_HINT_FORMS) > 32:
        _HINT_FORMS.clear()
    _HINT_FORMS[id(table)] = (table, forms)
    return forms


def _source_hits(source_categories: Sequence[str], rules: ClassifierRules) -> list[str]:
    found: list[str] = []
    for name in source_categories:
        key = strip_diacritics(words(name))
        aliased = [
            cat
            for cat in CATEGORIES
            if any(strip_diacritics(words(a)) == key for a in rules.aliases.get(cat, ()))
        ]
        found += aliased or _first_hits(_Text(name), rules.keywords)
    return found


def categorise(
    article: Article, rules: ClassifierRules, headline: _Text | None = None
) -> tuple[str, ...]:
    """The category keys of an article, most trusted first; ("tin_tuc",) when nothing matched.
    `headline` is the title and summary already prepared (classify() shares its own)."""
    found = _source_hits(article.source_categories, rules)
    found += _url_hits(article.url, rules.url_paths)
    if headline is None:
        headline = _Text(f"{article.title}\n{article.summary}")
    found += _first_hits(headline, rules.keywords)
    unique = tuple(dict.fromkeys(found))
    return unique or (DEFAULT_CATEGORY,)


def _is_stamp_word(marker: str) -> bool:
    return " " not in marker and marker.isupper()


def _mostly_upper(text: str) -> bool:
    letters = [w for w in text.split() if any(c.isalpha() for c in w)]
    return len(letters) >= 3 and sum(w.isupper() for w in letters) >= 0.8 * len(letters)


def _stamp_in(marker: str, text: str) -> bool:
    """An upper-case stand-alone stamp such as "MẬT", not the word inside ordinary prose."""
    if marker not in text:  # the common case, and much cheaper than the regex and word counts
        return False
    all_caps: bool | None = None
    for match in re.finditer(rf"(?<!\w){re.escape(marker)}(?!\w)", text):
        before = text[: match.start()].split()
        after = text[match.end() :].split()
        prev = _NON_WORD.sub("", before[-1]).casefold() if before else ""
        nxt = _NON_WORD.sub("", after[0]).casefold() if after else ""
        if prev in _NOT_A_STAMP_BEFORE or nxt in _NOT_A_STAMP_AFTER:
            continue
        if all_caps is None:
            all_caps = _mostly_upper(text)
        if all_caps:
            # In an all-caps title every word is upper-case; accept only stamp positions.
            char_before = text[match.start() - 1] if match.start() else ""
            if before and after and char_before not in ("(", "["):
                continue
        return True
    return False


def find_secrecy_marker(title: str, text: str, markers: Sequence[str]) -> str | None:
    """The first secrecy marker found (longest first), or None. `text` is summary + body.

    normalise() and classify() both ask this of the same article: the last answers are kept."""
    return _find_secrecy_marker(title, text, tuple(markers))


@functools.lru_cache(maxsize=4)  # few: the text can be long; the two calls are adjacent
def _find_secrecy_marker(title: str, text: str, markers: tuple[str, ...]) -> str | None:
    head = unicodedata.normalize("NFC", text[:MARKER_HEAD_CHARS])
    title = unicodedata.normalize("NFC", title)
    ordered = sorted(markers, key=len, reverse=True)
    label = _SECRECY_LABEL.search(f"{title}\n{head}")
    if label:
        value = " ".join(label.group(1).split()).casefold()
        for marker in ordered:
            if marker.casefold() == value:
                return marker
    whole: _Text | None = None
    lowered: str | None = None
    for marker in ordered:
        if _is_stamp_word(marker):
            if _stamp_in(marker, title) or _stamp_in(marker, head):
                return marker
            continue
        plain = _keyword_forms(marker)[0]
        # Every word of a match in words(text) is a run of word characters of the NFC,
        # case-folded text: when one is missing there, no match is possible (and the text
        # need not be cut into words at all, which costs more than everything else here).
        if lowered is None:
            lowered = unicodedata.normalize("NFC", f"{title}\n{text}").casefold()
        if not all(word in lowered for word in plain.split()):
            continue
        if whole is None:
            whole = _Text(f"{title}\n{text}")
        if f" {plain} " in whole.plain:
            return marker
    return None


def classify(article: Article, rules: ClassifierRules) -> Article:
    """Set categories, the HOLD flag and secrecy marker, and the URGENT flag."""
    flags = set(article.flags)
    body = f"{article.summary}\n{article.content_text}"
    marker = find_secrecy_marker(article.title, body, rules.secrecy_markers)
    marker = marker or article.secrecy_marker
    if marker:
        flags.add(Flag.HOLD)
    headline = _Text(f"{article.title}\n{article.summary}")
    if any(headline.has(k) for k in rules.urgent_keywords):
        flags.add(Flag.URGENT)
    return dataclasses.replace(
        article,
        categories=categorise(article, rules, headline),
        flags=frozenset(flags),
        secrecy_marker=marker,
    )
