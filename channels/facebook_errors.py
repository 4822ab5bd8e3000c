"""Graph API answers -> the PublishError classes (api-notes 1.4-1.6), and usage headers.

Classification is by `error.code` / `error_subcode`, never by HTTP status alone.

Decisions beyond the table:
- Codes 1 and 2 are `TemporaryError` on reads but `AmbiguousError` on a create call: Facebook
  has been seen to create the post and still answer them with HTTP 500 (arsduo/koala#699: a
  photo published 7 times by retries of code 2; facebookarchive/php-graph-sdk#1141: code 1
  on /feed while "the link gets posted"), so a create is reconciled, never re-sent at once.
- 506 (duplicate status message) is `AmbiguousError(duplicate=True)`: the same text was most
  likely posted by an earlier attempt whose answer was lost, so the publisher reconciles.
- 10 and 200-299 (permission missing) and 104 (no token) are `CredentialsError` like 190/102:
  every later post would fail the same way, so the channel pauses for a human.
- 368 (temporarily blocked for policy violations) is `ChannelBlockedError`: it can last
  hours, so the channel pauses for `BLOCK_WAIT` and admins are told; more calls would only
  prolong it. It has also been answered for repeated identical content (arsduo/koala#422),
  so when its message speaks of duplicates the create is reconciled as well.
- An unknown code with `is_transient: true` is `TemporaryError`; other unknown codes are
  permanent, so nothing unknown is retried blindly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from syndicator.errors import (
    AmbiguousError,
    ChannelBlockedError,
    CredentialsError,
    PermanentError,
    PublishError,
    TemporaryError,
    ThrottledError,
)

THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, 80001})
TRANSIENT_CODES = frozenset({1, 2})
AUTH_CODES = frozenset({102, 104, 190, 10, *range(200, 300)})
DUPLICATE_CODE = 506
BLOCKED_CODE = 368
BLOCK_WAIT = 6 * 3600.0  # seconds; reports speak of blocks lasting hours (api-notes 0)
_DUPLICATE_WORDS = ("duplicate", "same content", "repeated", "trùng")
DEFAULT_THROTTLE_WAIT = 60.0  # seconds; Meta advises backing off from about a minute
USAGE_HEADERS = ("x-app-usage", "x-page-usage")
BUC_HEADER = "x-business-use-case-usage"
_PERCENT_FIELDS = ("call_count", "total_time", "total_cputime")


def _json_header(headers: Mapping[str, str], name: str) -> Any:
    raw = headers.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None  # a malformed usage header must never break a publish


def _buc_entries(headers: Mapping[str, str]) -> list[dict[str, Any]]:
    buc = _json_header(headers, BUC_HEADER)
    if not isinstance(buc, dict):
        return []
    return [
        entry
        for entries in buc.values()
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]


def usage_percent(headers: Mapping[str, str]) -> float | None:
    """The highest usage percentage in X-App-Usage, X-Page-Usage and X-Business-Use-Case-Usage.

    None when no usage header came back (Meta only sends them after enough calls).
    """
    values: list[float] = []
    records = [_json_header(headers, name) for name in USAGE_HEADERS] + _buc_entries(headers)
    for record in records:
        if isinstance(record, dict):
            values += [
                float(record[key])
                for key in _PERCENT_FIELDS
                if isinstance(record.get(key), int | float)
            ]
    return max(values) if values else None


def throttle_wait(headers: Mapping[str, str]) -> float:
    """Seconds to wait after a throttle answer: the BUC regain time, else one minute."""
    minutes = [
        float(entry["estimated_time_to_regain_access"])
        for entry in _buc_entries(headers)
        if isinstance(entry.get("estimated_time_to_regain_access"), int | float)
    ]
    if minutes and max(minutes) > 0:
        return max(minutes) * 60
    # X-App-Usage at 100 gives no time either: Meta's advice is to back off, so one minute.
    return DEFAULT_THROTTLE_WAIT


def classify_graph_error(
    channel: str, error: Mapping[str, Any], headers: Mapping[str, str], *, creates: bool = False
) -> PublishError:
    """The exception for one `{"error": {...}}` envelope; `creates` for a create call."""
    code = error.get("code")
    subcode = error.get("error_subcode")
    text = str(error.get("message") or "unknown error")
    label = f"Graph error {code}" + (f"/{subcode}" if subcode else "") + f": {text}"
    if not isinstance(code, int):
        return PermanentError(channel, label, code=None)
    if code in THROTTLE_CODES:
        wait = throttle_wait(headers)
        return ThrottledError(channel, label, code=code, retry_after=wait)
    if code in TRANSIENT_CODES:
        if creates:
            return AmbiguousError(
                channel, label + " (Facebook may have created it anyway; reconciling)", code=code
            )
        return TemporaryError(channel, label, code=code)
    if code == DUPLICATE_CODE:
        return AmbiguousError(
            channel,
            label + " (probably posted by an earlier attempt; reconciling)",
            code=code,
            duplicate=True,
        )
    if code == BLOCKED_CODE:
        duplicate = any(word in text.lower() for word in _DUPLICATE_WORDS)
        return ChannelBlockedError(
            channel,
            label + " — Facebook blocked posting for a while; the channel pauses",
            code=code,
            retry_after=BLOCK_WAIT,
            duplicate=duplicate,
        )
    if code in AUTH_CODES:
        hint = " — a Page admin must issue a new Page access token"
        return CredentialsError(channel, label + hint, code=code)
    if error.get("is_transient") is True:
        return TemporaryError(channel, label, code=code)
    return PermanentError(channel, label, code=code)
