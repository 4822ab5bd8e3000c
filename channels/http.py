"""One HTTP call with the transport failures sorted into the PublishError classes.

The line that matters: for a call that creates something, a failure after the request may
have reached the service (read timeout, reset, protocol error) is `AmbiguousError`; a
failure before anything was sent (connect error, connect or pool timeout) is
`TemporaryError`, because retrying it cannot duplicate anything. Reads are always safe to
retry, so their transport failures are all `TemporaryError`.
"""

from __future__ import annotations

from typing import Any

import httpx

from syndicator.errors import AmbiguousError, TemporaryError

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


async def send(
    client: httpx.AsyncClient,
    channel: str,
    method: str,
    url: str,
    *,
    creates: bool,
    timeout: float,
    what: str,
    **kwargs: Any,
) -> httpx.Response:
    """Send one request; raise Temporary/AmbiguousError for transport failures (see above)."""
    try:
        return await client.request(method, url, timeout=timeout, **kwargs)
    except _NOT_SENT as exc:
        raise TemporaryError(channel, f"{what}: could not connect: {exc!r}") from exc
    except httpx.TransportError as exc:
        if creates:
            raise AmbiguousError(
                channel, f"{what}: no answer ({type(exc).__name__}); it may have gone through"
            ) from exc
        raise TemporaryError(channel, f"{what}: {type(exc).__name__}: {exc}") from exc


def json_body(response: httpx.Response) -> Any:
    """The decoded JSON body, or None when there is none or it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None
