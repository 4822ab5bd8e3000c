"""HTTP retrieval for sources: conditional GET, size cap, concurrency limits, server hints.

The fetcher owns HTTP and nothing else; parsing happens elsewhere on the returned bytes. A fetch
never raises into the poll cycle: failures come back as a FetchResult with `error` set.

Two engines open the responses: aiohttp directly (`FeedSessions`, feed_session.py; the
daemon's and `poll --once`'s feeds when `[fetch] transport = "aiohttp"`) or an httpx client
(`transport = "httpx"`, and callers that only hold the shared client). Everything after the
response is opened (status, caps, decoding, hints) is shared, on a `FeedResponse`.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import re
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from syndicator.network import ProxyPlan, RoutingTransport
from syndicator.sources import feed_session
from syndicator.sources.feed_session import FeedResponse, FeedSessions, plain_headers

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
    """Conditional GETs under a global and a per-host concurrency limit.

    With `engine` the GETs go through aiohttp directly (feed_session.py); without it, through
    `client`. Both give the same results (tests/core/test_fetch_http.py runs both).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        engine: FeedSessions | None = None,
        concurrency: int = 20,
        per_host: int = 4,
        max_body_bytes: int = 10 * 1024 * 1024,
        deadline: float = 60.0,
        accept: str = "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
        "application/json;q=0.9, text/xml;q=0.8, */*;q=0.5",
    ) -> None:
        self.client = client
        self.engine = engine
        self.max_body_bytes = max_body_bytes
        # Total seconds for one fetch (the poller also spends what is left of it on parsing):
        # read_timeout bounds the gap between two reads, not the whole body, so a portal that
        # drips a byte every few seconds would otherwise hold its source for ever.
        self.deadline = deadline
        self.accept = accept
        self._global = asyncio.Semaphore(concurrency)
        self._per_host_limit = per_host
        # Per URL, parsed once: (the engine's URL, host). Parsing was a tenth of httpx's
        # per-request cost.
        self._urls: dict[str, tuple[Any, str]] = {}
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
        deadline_at: float | None = None,
    ) -> FetchResult:
        """One conditional GET; never raises. `deadline_at` (event-loop time) overrides the
        fetcher's own deadline, so the poller can share one budget between fetch and parse."""
        parsed = self._urls.get(url)
        if parsed is None:
            try:
                target = httpx.URL(url) if self.engine is None else feed_session.parse(url)
                parsed = self._urls[url] = (target, urlsplit(url).netloc.lower())
            except Exception as exc:  # httpx.InvalidURL, ValueError: this source's fault only
                return FetchResult(url, error=f"invalid URL: {exc}"[:500])
        target, host = parsed
        headers = {"Accept": self.accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        loop = asyncio.get_running_loop()
        until = loop.time() + self.deadline if deadline_at is None else deadline_at
        try:
            async with asyncio.timeout_at(until):
                # Waiting for a free slot counts against the deadline too: the source is late
                # either way, and the next poll tries again.
                async with self._global, self._hosts[host]:
                    return await self._guarded(url, target, headers, previous_hash, now)
        except TimeoutError:
            return FetchResult(
                url,
                error=f"deadline: no complete answer within {self.deadline:g} s (fetch.deadline)",
            )

    async def _guarded(
        self,
        url: str,
        target: Any,
        headers: dict[str, str],
        previous_hash: str | None,
        now: datetime | None,
    ) -> FetchResult:
        try:
            return await self._get(url, target, headers, previous_hash, now or datetime.now(UTC))
        except (httpx.TimeoutException, TimeoutError) as exc:
            # aiohttp's timeouts are TimeoutErrors. The deadline's is not: asyncio.timeout_at
            # cancels this task, and turns the CancelledError into TimeoutError outside.
            return FetchResult(url, error=f"timeout: {feed_session.timeout_name(exc)}")
        except httpx.HTTPError as exc:
            return FetchResult(url, error=f"{type(exc).__name__}: {exc}"[:500])
        except Exception as exc:  # a fetch must never take the poll cycle down
            return FetchResult(url, error=f"{type(exc).__name__}: {exc}"[:500])

    async def _get(
        self,
        url: str,
        target: Any,
        headers: dict[str, str],
        previous_hash: str | None,
        now: datetime,
    ) -> FetchResult:
        opened = (
            _httpx_open(self.client, target, headers)
            if self.engine is None
            else self.engine.open(target, headers)
        )
        async with opened as response:
            got = response.headers
            hints = _hints(got, now)
            common: dict[str, Any] = {
                "status": response.status,
                "headers": got,
                "final_url": response.url,
                **hints,
            }
            if response.status == 304:
                return FetchResult(url, not_modified=True, **common)
            if response.status >= 400:
                reason = response.reason
                return FetchResult(url, error=f"HTTP {response.status} {reason}".strip(), **common)
            declared = got.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
                return FetchResult(url, error=_too_big(self.max_body_bytes), **common)
            try:
                decoder = _Decoder(got.get("content-encoding", ""), self.max_body_bytes)
            except _BodyError as exc:
                return FetchResult(url, error=str(exc), **common)
            chunks, size = [], 0
            try:
                # Raw bytes, decoded here: httpx (and aiohttp) would undo every layer a server
                # lists ("gzip, gzip") before any size check could run (issue 10: a 1.9 KB body
                # unpacked to 2.1 GB of memory).
                async for raw in response.raw:
                    size += len(raw)
                    if size > self.max_body_bytes:
                        return FetchResult(url, error=_too_big(self.max_body_bytes), **common)
                    chunks.append(decoder.feed(raw))
                chunks.append(decoder.finish())
            except _BodyError as exc:
                return FetchResult(url, error=str(exc), **common)
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


class _BodyError(Exception):
    """The body cannot be accepted (coding, size); the message is the source's error."""


class _Decoder:
    """At most one content-coding layer (gzip, deflate or none), streamed and bounded.

    Only gzip and deflate are asked for (Accept-Encoding above), and RFC 9110 8.4.1 lists
    codings in the order applied, so more than one layer is a server that ignores what was
    asked or a decompression bomb: refused. Output beyond `limit` bytes is an error before it
    is produced, not after (zlib's max_length), so a bomb never grows in memory.
    """

    def __init__(self, header: str, limit: int) -> None:
        codings = [c.strip().lower() for c in header.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise _BodyError(
                f"refused Content-Encoding {header.strip()!r}: more than one compression layer "
                "(a decompression bomb, or a misconfigured server)"
            )
        coding = codings[0] if codings else None
        if coding not in (None, "gzip", "x-gzip", "deflate"):
            raise _BodyError(f"unsupported Content-Encoding {coding!r} (only gzip and deflate)")
        self.coding = coding
        self.limit = limit
        self.produced = 0
        self._zlib: Any = None
        self._first = b""  # deflate: bytes kept until the zlib header can be recognised
        if coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        if self.coding is None:
            return data
        if self._zlib is None:  # deflate: zlib-wrapped per the RFC, raw in some servers
            self._first += data
            if len(self._first) < 2:
                return b""
            data, self._first = self._first, b""
            wrapped = (data[0] & 0x0F) == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return self._inflate(data)

    def finish(self) -> bytes:
        if self.coding is None:
            return b""
        out = b""
        if self._zlib is None:  # deflate body shorter than two bytes
            data, self._first = self._first, b""
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflate(data)
        if not self._zlib.eof:
            raise _BodyError(f"{self.coding} body ends before its end marker (truncated)")
        return out

    def _inflate(self, data: bytes) -> bytes:
        out = []
        try:
            while data:
                room = self.limit - self.produced
                piece = self._zlib.decompress(data, room + 1)
                self.produced += len(piece)
                if self.produced > self.limit:
                    raise _BodyError(
                        f"response larger than the {self.limit // 1024} KiB cap once "
                        "decompressed (fetch.max_body_bytes)"
                    )
                out.append(piece)
                data = self._zlib.unconsumed_tail
                if (
                    self._zlib.eof
                    and self.coding != "deflate"
                    and self._zlib.unused_data.startswith(b"\x1f\x8b")
                ):
                    # A gzip file may hold several members, one after another (RFC 1952
                    # 2.2): still one coding layer, decoded within the same budget. Other
                    # bytes after the end (padding some servers add) are ignored, as httpx does.
                    data = self._zlib.unused_data
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                elif self._zlib.eof:
                    break
        except zlib.error as exc:
            raise _BodyError(f"broken {self.coding} body: {exc}") from exc
        return b"".join(out)


def _too_big(limit: int) -> str:
    return f"response larger than the {limit // 1024} KiB cap (fetch.max_body_bytes)"


@contextlib.asynccontextmanager
async def _httpx_open(
    client: httpx.AsyncClient, target: httpx.URL, headers: dict[str, str]
) -> AsyncIterator[FeedResponse]:
    async with client.stream("GET", target, headers=headers) as response:
        yield FeedResponse(
            response.status_code,
            response.reason_phrase or "",
            # One pass over the raw headers: httpx.Headers decodes on every lookup, which was
            # a tenth of the CPU of a 304 (measured; see docs/benchmarks.md).
            plain_headers(response.headers.raw),
            str(response.url),
            response.aiter_raw(),
        )


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
