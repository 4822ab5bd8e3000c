"""Graph API error envelopes and usage headers, as api-notes.md 1.4-1.6 describes them."""

from __future__ import annotations

import json
import secrets
from typing import Any

from aiohttp import web

from syndicator.sandbox.common import json_response

# code -> (default message, default subcode, is_transient). Codes 1 and 2 answer 500 (1.4);
# the throttling codes carry is_transient like the samples seen in public code.
GRAPH_ERRORS: dict[int, tuple[str, int | None, bool]] = {
    1: ("An unknown error occurred", None, True),
    2: ("An unexpected error has occurred. Please retry your request later.", None, True),
    4: ("(#4) Application request limit reached", None, True),
    10: ("(#10) Application does not have permission for this action", None, False),
    12: (
        "(#12) deprecate_post_aggregated_fields_for_attachement is deprecated for versions "
        "v3.3 and higher",
        None,
        False,
    ),
    17: ("(#17) User request limit reached", None, True),
    32: ("(#32) Page request limit reached", None, True),
    100: ("(#100) Invalid parameter", None, False),
    104: ("An access token is required to request this resource.", None, False),
    190: ("Error validating access token: Session has expired.", 463, False),
    200: ("(#200) Requires pages_manage_posts permission to manage the object", None, False),
    324: ("(#324) Missing or invalid image file", None, False),
    341: ("(#341) Application limit reached", None, True),
    368: ("The action attempted has been deemed abusive or is otherwise disallowed", None, False),
    506: ("(#506) Duplicate status message", None, False),
    613: ("(#613) Calls to this api have exceeded the rate limit.", 1996, True),
    80001: (
        "(#80001) There have been too many calls to this Page account. Wait a bit and try again.",
        None,
        True,
    ),
    1609005: ("Error Posting Link", None, False),
}

TOKEN_MESSAGES = {
    460: "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons.",
    463: "Error validating access token: Session has expired.",
    467: "Invalid OAuth access token - Cannot parse access token",
}

THROTTLE_CODES = frozenset({4, 17, 32, 341, 613, 80001})


def error_status(code: int) -> int:
    """HTTP status for a code: 500 for the 'service' codes 1 and 2, 400 for the rest (1.4)."""
    return 500 if code in (1, 2) else 400


def error_body(
    code: int,
    subcode: int | None = None,
    message: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The documented `{"error": {...}}` envelope for a code, with sensible defaults."""
    default_message, default_subcode, transient = GRAPH_ERRORS.get(
        code, (f"(#{code})", None, False)
    )
    if subcode is None:
        subcode = default_subcode
    if message is None:
        message = (
            TOKEN_MESSAGES.get(subcode or 0, default_message) if code == 190 else default_message
        )
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    for key in ("error_user_title", "error_user_msg"):
        if extra.get(key):
            error[key] = extra[key]
    error["fbtrace_id"] = secrets.token_urlsafe(8)
    return {"error": error}


class GraphError(Exception):
    """Raised inside a handler to answer with an error envelope."""

    def __init__(self, code: int, subcode: int | None = None, message: str | None = None, **extra):
        super().__init__(message or str(code))
        self.code = code
        self.subcode = subcode
        self.message = message
        self.extra = extra

    def response(self, headers: dict[str, str]) -> web.Response:
        """The error answer, with the usage headers of this call."""
        body = error_body(self.code, self.subcode, self.message, **self.extra)
        return json_response(body, status=error_status(self.code), headers=headers)


class Usage:
    """The percentages reported in X-App-Usage / X-Business-Use-Case-Usage.

    Each call adds `per_call` percent (capped at 100). A throttle fault reports 100 and its
    `estimated_time_to_regain_access` (minutes) on that one answer only, so a client that waits
    as told is not throttled forever by its own headers.
    """

    def __init__(self, per_call: int = 1, enabled: bool = True) -> None:
        self.per_call = per_call
        self.enabled = enabled
        self.call_count = 0
        self.total_time = 0
        self.total_cputime = 0
        self.regain_minutes = 0

    def record_call(self) -> None:
        self.call_count = min(100, self.call_count + self.per_call)
        self.total_time = min(100, self.total_time + self.per_call)
        self.total_cputime = min(100, self.total_cputime + self.per_call)

    def set(self, **values: int) -> None:
        """Set any of call_count, total_time, total_cputime, regain_minutes directly."""
        for key, value in values.items():
            if key not in ("call_count", "total_time", "total_cputime", "regain_minutes"):
                raise ValueError(f"unknown usage field {key!r}")
            setattr(self, key, int(value))

    def reset(self) -> None:
        self.set(call_count=0, total_time=0, total_cputime=0, regain_minutes=0)

    def headers(self, business_id: str | None, throttled: int | None = None) -> dict[str, str]:
        """Header values; `throttled` is the regain time (minutes) of a throttle answer."""
        if not self.enabled:
            return {}
        app = {
            "call_count": self.call_count,
            "total_time": self.total_time,
            "total_cputime": self.total_cputime,
        }
        regain = self.regain_minutes
        if throttled is not None:
            app = dict.fromkeys(app, 100)
            regain = throttled
        headers = {"X-App-Usage": json.dumps(app)}
        if business_id is not None:
            buc = {
                business_id: [{"type": "pages", **app, "estimated_time_to_regain_access": regain}]
            }
            headers["X-Business-Use-Case-Usage"] = json.dumps(buc)
        return headers
