"""Zalo OA business errors (HTTP 200, `{"error": n}`) -> PublishError classes (api-notes 2.7).

Decisions where the notes leave a choice:
- -216/-220/-124 (access token) are handled by the caller: one single-flight refresh and one
  retry; a second one becomes `CredentialsError`. `AUTH_CODES` lists them.
- -214 (still processing) only means "wait" inside the verify loop; anywhere else it is a
  `TemporaryError`.
- -211/-223 (quota for the period) are `ThrottledError` with `retry_after` until the next
  local midnight (Asia/Ho_Chi_Minh): the quota renews per period, so the post should wait,
  not fail; the publisher's attempt cap still ends in a human alert if it never renews.
- -242 (appsecret_proof), -224 (no service package), -204/-205 (OA gone), -209/-212/-219
  (app not activated / API not registered / app disabled), -221 (OA not verified) and -235
  (not for this OA category) are `CredentialsError`: the OA or app needs a human, and every
  later post would fail the same way, so the channel pauses rather than failing posts one by
  one.
- -201/-210 (bad parameter), -240 (retired API), -248 (content violation), 404 (unknown path)
  and anything unknown are `PermanentError` for this post.
- -100 is `TemporaryError`; -32 is `ThrottledError` (one minute).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from channels.render_common import LOCAL_TZ
from syndicator.errors import (
    CredentialsError,
    PermanentError,
    PublishError,
    TemporaryError,
    ThrottledError,
)

AUTH_CODES = frozenset({-216, -220, -124})
PROCESSING = -214
QUOTA_CODES = frozenset({-211, -223})
NEEDS_HUMAN_CODES = frozenset({-242, -224, -204, -205, -209, -212, -219, -221, -235})
TRANSIENT_CODES = frozenset({-100, PROCESSING})
RATE_LIMIT = -32
RATE_LIMIT_WAIT = 60.0


def until_next_local_midnight(now: datetime) -> float:
    """Seconds from `now` to the next 00:00 in Asia/Ho_Chi_Minh."""
    local = now.astimezone(LOCAL_TZ)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - local).total_seconds()


def classify_zalo_error(channel: str, code: int, message: str, *, now: datetime) -> PublishError:
    """The exception for a non-zero `error` (auth codes included, as CredentialsError)."""
    label = f"Zalo error {code}: {message}"
    if code in AUTH_CODES:
        return CredentialsError(
            channel,
            label + " — re-authorise the OA: `syndicator channels set-token zalo`",
            code=code,
        )
    if code in TRANSIENT_CODES:
        return TemporaryError(channel, label, code=code)
    if code == RATE_LIMIT:
        return ThrottledError(channel, label, code=code, retry_after=RATE_LIMIT_WAIT)
    if code in QUOTA_CODES:
        wait = until_next_local_midnight(now)
        return ThrottledError(
            channel, label + " (waiting for the next period)", code=code, retry_after=wait
        )
    if code in NEEDS_HUMAN_CODES:
        return CredentialsError(channel, label + " — the OA or app needs attention", code=code)
    return PermanentError(channel, label, code=code)
