"""HTTP retrieval for sources: conditional GET, size cap, concurrency limits, server hints.

The fetcher owns HTTP and nothing else; parsing happens elsewhere on the returned bytes. A fetch
never raises into the poll cycle: failures come back as a FetchResult with `error` set.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from syndicator.network import ProxyPlan, RoutingTransport

_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.I)


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    not_modified: bool = False
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    retry_after: timedelta | None = None  # server hint: do not come back sooner
    max_age: timedelta | None = None
    final_url: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _ResponseCookies(httpx.Cookies):
    """httpx's cookie store, reading a response's cookies only when it sets any.

    httpx builds a urllib request and response for every response it sees, just to find
    Set-Cookie headers that feeds almost never send: a sixth of the CPU of a 304 (measured,
    docs/benchmarks.md). A response that does set cookies is handled exactly as before.
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        if any(name.lower() == b"set-cookie" for name, _ in response.headers.raw):
            super().extract_cookies(response)


def build_client(
    *,
    user_agent: str,
    connect_timeout: float,
    read_timeout: float,
    transport: str = "aiohttp",
    max_connections: int = 100,
    proxy_plan: ProxyPlan | None = None,
) -> httpx.AsyncClient:
    """The shared client. `aiohttp` puts aiohttp's engine under httpx's API (measured faster).

    Proxies are chosen per request by `proxy_plan` (syndicator/network.py) for both transports:
    the aiohttp transport ignores HTTPS_PROXY on its own, and httpx's env handling knows no
    CIDR in NO_PROXY, so httpx's own env lookup is off (trust_env=False) and the plan decides.
    """
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    headers = {"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"}
    plan = proxy_plan or ProxyPlan()
    make: Callable[[str | None], httpx.AsyncBaseTransport]
    if transport == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        def make(proxy: str | None) -> httpx.AsyncBaseTransport:
            return AiohttpTransport(proxy=httpx.Proxy(proxy) if proxy else None)

    else:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )

        def make(proxy: str | None) -> httpx.AsyncBaseTransport:
            return httpx.AsyncHTTPTransport(limits=limits, proxy=proxy)

    client = httpx.AsyncClient(
        transport=RoutingTransport(plan, make),
        timeout=timeout,
        headers=headers,
        follow_redirects=True,
        trust_env=False,
    )
    # httpx has no public hook for the cookie store's class; its `cookies` setter copies into
    # a plain httpx.Cookies. tests/core/test_fetch_http.py checks cookies still round-trip.
    client._cookies = _ResponseCookies(client.cookies.jar)
    return client


class Fetcher:
    """Conditional GETs under a global and a per-host concurrency limit."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        concurrency: int = 20,
        per_host: int = 4,
        max_body_bytes: int = 10 * 1024 * 1024,
        accept: str = "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
        "application/json;q=0.9, text/xml;q=0.8, */*;q=0.5",
    ) -> None:
        self.client = client
        self.max_body_bytes = max_body_bytes
        self.accept = accept
        self._global = asyncio.Semaphore(concurrency)
        self._per_host_limit = per_host
        # Per URL, parsed once: (httpx.URL, host). Parsing was a tenth of httpx's per-request cost.
        self._urls: dict[str, tuple[httpx.URL, str]] = {}
        self._hosts: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self._per_host_limit)
        )

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        previous_hash: str | None = None,
        now: datetime | None = None,
    ) -> FetchResult:
        parsed = self._urls.get(url)
        if parsed is None:
            try:
                parsed = self._urls[url] = (httpx.URL(url), urlsplit(url).netloc.lower())
            except Exception as exc:  # httpx.InvalidURL, ValueError: this source's fault only
                return FetchResult(url, error=f"invalid URL: {exc}"[:500])
        target, host = parsed
        headers = {"Accept": self.accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._global, self._hosts[host]:
            try:
                return await self._get(
                    url, target, headers, previous_hash, now or datetime.now(UTC)
                )
            except httpx.TimeoutException as exc:
                return FetchResult(url, error=f"timeout: {type(exc).__name__}")
            except httpx.HTTPError as exc:
                return FetchResult(url, error=f"{type(exc).__name__}: {exc}"[:500])
            except Exception as exc:  # a fetch must never take the poll cycle down
                return FetchResult(url, error=f"{type(exc).__name__}: {exc}"[:500])

    async def _get(
        self,
        url: str,
        target: httpx.URL,
        headers: dict[str, str],
        previous_hash: str | None,
        now: datetime,
    ) -> FetchResult:
        async with self.client.stream("GET", target, headers=headers) as response:
            # One pass over the raw headers: httpx.Headers decodes on every lookup, which was a
            # tenth of the CPU of a 304 (measured; see docs/benchmarks.md).
            got = _plain_headers(response.headers)
            hints = _hints(got, now)
            common: dict[str, Any] = {
                "status": response.status_code,
                "headers": got,
                "final_url": str(response.url),
                **hints,
            }
            if response.status_code == 304:
                return FetchResult(url, not_modified=True, **common)
            if response.status_code >= 400:
                reason = response.reason_phrase or ""
                return FetchResult(
                    url, error=f"HTTP {response.status_code} {reason}".strip(), **common
                )
            declared = got.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
                return FetchResult(url, error=_too_big(self.max_body_bytes), **common)
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_body_bytes:
                    return FetchResult(url, error=_too_big(self.max_body_bytes), **common)
                chunks.append(chunk)
        body = b"".join(chunks)
        digest = hashlib.sha256(body).hexdigest()
        return FetchResult(
            url,
            body=body,
            not_modified=digest == previous_hash,
            etag=got.get("etag"),
            last_modified=got.get("last-modified"),
            body_hash=digest,
            **common,
        )


def _too_big(limit: int) -> str:
    return f"response larger than the {limit // 1024} KiB cap (fetch.max_body_bytes)"


def _plain_headers(headers: httpx.Headers) -> dict[str, str]:
    """Lower-case names to values; repeated headers joined with ", " as httpx.Headers does."""
    encoding = headers.encoding
    out: dict[str, str] = {}
    for raw_name, raw_value in headers.raw:
        name, value = raw_name.decode(encoding).lower(), raw_value.decode(encoding)
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _hints(headers: Mapping[str, str], now: datetime) -> dict[str, timedelta | None]:
    """Retry-After (seconds or HTTP date) and Cache-Control max-age as lower bounds."""
    retry_after = None
    value = headers.get("retry-after")
    if value:
        if value.strip().isdigit():
            retry_after = timedelta(seconds=int(value.strip()))
        else:
            try:
                when = email.utils.parsedate_to_datetime(value)
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                retry_after = max(timedelta(0), when - now)
            except (TypeError, ValueError):
                retry_after = None
    max_age = None
    match = _MAX_AGE.search(headers.get("cache-control", ""))
    if match:
        max_age = timedelta(seconds=int(match.group(1)))
    return {"retry_after": retry_after, "max_age": max_age}
