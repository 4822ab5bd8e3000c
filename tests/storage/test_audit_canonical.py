"""The audit chain's canonical text and hashes, as built for speed (prebuilt encoders, a cached
secret-key test, hmac.digest), are exactly what the straightforward form gives: every trail
written before verifies the same way."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from syndicator.audit import REDACTED, canonical_data, event_hash, scrub

_WORDS = ["source", "guid", "url", "Tiêu đề", "access_token", "token_state", "api_key",
          "page_token", "post_id", "secret_hash", "Password", "categories", "ä\u0301", "flags"]  # fmt: skip


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return rng.randrange(-(10**12), 10**12)
    if kind == 1:
        return "".join(rng.choice('aăâđêôơưAĐ xyz"\\\n\u2028✓') for _ in range(rng.randrange(12)))
    if kind == 2:
        return rng.choice([None, True, False, 1.5])
    if kind == 3:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**8))
    if kind == 4:
        return rng.choice(_WORDS)
    if kind == 5:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 6:
        return {rng.choice(_WORDS): _value(rng, depth + 1) for _ in range(rng.randrange(5))}
    return frozenset(rng.choice(_WORDS) for _ in range(rng.randrange(4)))


def _reference_canonical(data: Any) -> str:
    return json.dumps(scrub(data or {}), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _reference_hash(prev: str, id: int, at: datetime, kind: str, actor: str,
                    subject: str | None, data: str, key: bytes | None) -> str:  # fmt: skip
    stamp = at.astimezone(UTC).replace(microsecond=0).isoformat()
    body = json.dumps([id, stamp, kind, actor, subject, data], ensure_ascii=False,
                      separators=(",", ":"))  # fmt: skip
    message = (prev + body).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, "sha256").hexdigest()


def test_canonical_text_and_hashes_match_the_plain_form() -> None:
    rng = random.Random(11)
    prev = "0" * 64
    for n in range(3_000):
        data = {rng.choice(_WORDS): _value(rng) for _ in range(rng.randrange(6))}
        body = canonical_data(data)
        assert body == _reference_canonical(data)
        at = datetime(2026, 12, 3, tzinfo=UTC) + timedelta(microseconds=rng.randrange(10**12))
        key = None if n % 3 == 0 else b"k" * (16 + n % 7)
        subject = None if n % 5 == 0 else f"article:{n}"
        digest = event_hash(prev, n, at, "article.new", "poller", subject, body, key)
        assert digest == _reference_hash(prev, n, at, "article.new", "poller", subject, body, key)
        prev = digest


def test_secret_looking_keys_are_redacted_at_any_depth() -> None:
    data = {
        "Access_Token": "EAAB...",
        "page": {"token": "x", "token_state": "ok", "post_id": 7, "secret_hash": "h"},
        "items": [{"api_key": "k", "title": "Tin tức"}],
    }
    assert scrub(data) == {
        "Access_Token": REDACTED,
        "page": {"token": REDACTED, "token_state": "ok", "post_id": 7, "secret_hash": "h"},
        "items": [{"api_key": REDACTED, "title": "Tin tức"}],
    }
