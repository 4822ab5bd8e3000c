"""The plain Vietnamese sentences for errors staff can see (approval/plain.py)."""

from __future__ import annotations

import pytest

from syndicator.approval import plain
from syndicator.errors import (
    AmbiguousError,
    ChannelBlockedError,
    CredentialsError,
    PermanentError,
    TemporaryError,
    ThrottledError,
)
from syndicator.publishing.lifecycle import Outcome, Phase, outcome_for

SOURCE_CASES = [
    ("timeout: ConnectTimeout", plain.SOURCE_TIMEOUT),
    ("timeout: ReadTimeout", plain.SOURCE_TIMEOUT),
    ("deadline: no complete answer within 60 s (fetch.deadline)", plain.SOURCE_DEADLINE),
    ("deadline: fetch and parse took over 60 s (fetch.deadline)", plain.SOURCE_DEADLINE),
    ("HTTP 404 Not Found", plain.SOURCE_NOT_FOUND.format(code=404)),
    ("HTTP 410 Gone", plain.SOURCE_NOT_FOUND.format(code=410)),
    ("HTTP 403 Forbidden", plain.SOURCE_FORBIDDEN.format(code=403)),
    ("HTTP 503 Service Unavailable", plain.SOURCE_SERVER.format(code=503)),
    ("HTTP 429 Too Many Requests", plain.SOURCE_HTTP.format(code=429)),
    ("not a feed: the URL returned an HTML page that advertises no RSS", plain.SOURCE_NOT_FEED),
    ("not a feed: the response is empty", plain.SOURCE_NOT_FEED),
    ("parse: mismatched tag: line 3, column 2", plain.SOURCE_PARSE),
    ("response larger than the 10240 KiB cap (fetch.max_body_bytes)", plain.SOURCE_TOO_BIG),
    (
        "refused Content-Encoding 'gzip, gzip': more than one compression layer",
        plain.SOURCE_COMPRESSION,
    ),
    ("unsupported Content-Encoding 'br' (only gzip and deflate)", plain.SOURCE_COMPRESSION),
    ("broken gzip body: invalid block type", plain.SOURCE_COMPRESSION),
    ("gzip body ends before its end marker (truncated)", plain.SOURCE_COMPRESSION),
    ("invalid URL: Request URL is missing an 'http://' or 'https://' protocol.", plain.SOURCE_URL),
    ("ConnectError: [Errno 111] Connection refused", plain.SOURCE_CONNECT),
    ("RemoteProtocolError: Server disconnected", plain.SOURCE_CONNECT),
    ("ingest failed: OperationalError: database is locked", plain.SOURCE_INGEST),
    ("entry https://x.vn/1: ValueError: bad date", plain.SOURCE_ENTRY),
    ("something nobody foresaw", plain.SOURCE_UNKNOWN),
    ("", plain.SOURCE_UNKNOWN),
    (None, plain.SOURCE_UNKNOWN),
]


@pytest.mark.parametrize(("error", "sentence"), SOURCE_CASES)
def test_source_errors_read_as_plain_sentences(error: str | None, sentence: str) -> None:
    """Each class of source error (fetch.py, htmlpage.py, poller.py) maps to its sentence."""
    assert plain.source_error(error) == sentence


CHANNEL_ERRORS = [
    (CredentialsError("fb", "token expired"), Phase.CREATE, "credentials"),
    (ChannelBlockedError("fb", "368", retry_after=3600), Phase.CREATE, "blocked"),
    (ChannelBlockedError("fb", "368", retry_after=60, duplicate=True), Phase.CREATE, "duplicate"),
    (AmbiguousError("fb", "timeout"), Phase.CREATE, "ambiguous"),
    (AmbiguousError("fb", "506", duplicate=True), Phase.CREATE, "duplicate"),
    (ThrottledError("fb", "4", retry_after=60), Phase.CREATE, "throttled"),
    (TemporaryError("fb", "503"), Phase.CREATE, "temporary"),
    (PermanentError("fb", "(#100) Invalid parameter"), Phase.CREATE, "permanent"),
    (PermanentError("zalo", "-200 Upload media failed"), Phase.VERIFY, "unverified"),
    (PermanentError("zalo", "-201"), Phase.RECONCILE, "unresolved"),
]


@pytest.mark.parametrize(("error", "phase", "kind"), CHANNEL_ERRORS)
def test_every_post_error_class_has_its_own_sentence(
    error: Exception, phase: Phase, kind: str
) -> None:
    """Every class the lifecycle records has a sentence of its own, never the fallback."""
    outcome: Outcome = outcome_for(error, phase)  # type: ignore[arg-type]
    assert outcome.error_class == kind
    sentence = plain.post_error(outcome.error_class)
    assert sentence != plain.POST_UNKNOWN and sentence.endswith(".")
    assert not any(word in sentence for word in ("timeout", "error", "Graph", "HTTP"))


def test_unknown_post_class_falls_back() -> None:
    """A missing or new class still gets a sentence (no raw text for editors)."""
    assert plain.post_error(None) == plain.POST_UNKNOWN
    assert plain.post_error("remove") == plain.POST_ERRORS["remove"]
    assert plain.post_error("weird") == plain.POST_UNKNOWN


def test_sentences_are_distinct() -> None:
    """Two classes never share a sentence, so an editor can tell them apart."""
    assert len(set(plain.POST_ERRORS.values())) == len(plain.POST_ERRORS)


def test_admins_get_the_detail_cut_at_a_word() -> None:
    """for_admins appends the technical text, whitespace folded, cut at a word boundary."""
    assert plain.for_admins("Câu.", "") == "Câu."
    assert plain.for_admins("Câu.", "timeout:\n ConnectTimeout") == (
        "Câu. (Chi tiết kỹ thuật: timeout: ConnectTimeout)"
    )
    long = " ".join(["word"] * 100)
    text = plain.for_admins("Câu.", long, limit=50)
    detail = text.removeprefix("Câu. (Chi tiết kỹ thuật: ").removesuffix(")")
    assert detail.endswith("word…") and len(detail) <= 50
