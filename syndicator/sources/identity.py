"""Identity of an article: its canonical URL, a content hash and a duplicate fingerprint.

- `canonical_url` says "same page": it removes what differs between two links to one article
  (scheme, case of the host, default port, tracking parameters, fragment, trailing slash,
  `&amp;` left over from bad escaping). It is for comparing, never for linking.
- `content_hash` says "same text": it changes when an editor fixes a typo, so storage can
  notice an update.
- `fingerprint` says "same story, maybe from another agency's feed": see its docstring.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# Query parameters that only say where a click came from. Zalo adds zarsrc/zlsid to shared
# links, Facebook fbclid, Google gclid; the rest are common mail and ad trackers.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
        "zarsrc", "zlsid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "_ga", "_gl",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_",)
DEFAULT_PORTS = {"http": 80, "https": 443}
FINGERPRINT_TEXT_WORDS = 40

_PCT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_WORD = re.compile(r"\w+")


def fix_amp(url: str) -> str:
    """Undo `&amp;` escaping that survived into a URL (sometimes twice: `&amp;amp;`)."""
    while "&amp;" in url:
        url = url.replace("&amp;", "&")
    return url


def canonical_url(url: str) -> str:
    """The comparison form of a URL (https, lower-case host, no tracking, no fragment)."""
    url = fix_amp(url.strip())
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # e.g. a non-numeric port: keep the text, it still identifies the page
        return url
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return url
    # http and https serve the same article on every portal we know; compare them as one.
    host = (parts.hostname or "").rstrip(".")
    netloc = host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit(
        ("https", netloc, _canonical_path(parts.path), _canonical_query(parts.query), "")
    )


def _canonical_path(path: str) -> str:
    # Quote raw non-ASCII characters; keep existing escapes but upper-case them, so that
    # "/tin-t%e1%bb%a9c" and "/tin-tức" compare equal.
    path = quote(unicodedata.normalize("NFC", path), safe="/%:@!$&'()*+,;=-._~")
    path = _PCT_ESCAPE.sub(lambda m: m.group(0).upper(), path)
    path = re.sub(r"/{2,}", "/", path)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path or "/"


def _canonical_query(query: str) -> str:
    pairs = [
        (key, value)
        for key, value in parse_qsl(query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMS and not key.lower().startswith(TRACKING_PREFIXES)
    ]
    # Portals build query strings in whatever order; the order never selects a different page.
    pairs.sort()
    return urlencode(pairs)


def collapse(text: str) -> str:
    """NFC and single spaces: the form text is compared and hashed in."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def content_hash(title: str, summary: str, content_text: str) -> str:
    """sha256 hex of the NFC, whitespace-collapsed title, summary and content."""
    joined = "\x1f".join(collapse(part) for part in (title, summary, content_text))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


def fingerprint(title: str, text: str) -> str:
    """A fingerprint for spotting the same story in two feeds.

    sha256 of the NFC, case-folded words of the title plus the first 40 words of the text
    (punctuation and whitespace dropped). NFC/NFD, case, punctuation and spacing differences
    vanish; diacritics are kept on purpose, since Vietnamese words differ only by them ("bão"
    storm, "báo" newspaper, "bảo" protect). The text part keeps weekly notices with identical
    titles ("Lịch công tác tuần") apart; 40 words survive the different endings that portals
    append ("Nguồn: ...", "Xem thêm").
    """
    title_part = " ".join(_words(title))
    text_part = " ".join(_words(text)[:FINGERPRINT_TEXT_WORDS])
    digest = hashlib.sha256(f"{title_part}\n{text_part}".encode())
    return digest.hexdigest()
