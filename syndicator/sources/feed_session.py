"""The feed-fetch engine: aiohttp used directly, for the poller's conditional GETs.

Through httpx (with the httpx_aiohttp transport) a 304 cost 0.19-0.22 ms of CPU, through a
plain aiohttp session 0.074-0.079 ms: httpx's request building, header merging, auth and
redirect loops, response wrapping and the transport's conversions cost more than aiohttp
itself (docs/benchmarks.md, s7). Feeds are most of what the daemon fetches, so they skip httpx;
Graph, Zalo and Telegram stay on httpx (their clients need its API, and they are few calls).

What this module owns is only "open a response": `Fetcher` (fetch.py) does the rest
(deadline, semaphores, size caps, decoding) on the small `FeedResponse` view, whichever engine
opened it. The settings mirror what `build_client` gives httpx, so the two engines behave
alike: same User-Agent and Accept-Encoding, the same timeouts, the same CA bundle, one cookie
store, redirects followed, proxies chosen per request by `ProxyPlan`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from yarl import URL

from syndicator.network import ProxyPlan

# httpx's default (httpx._config.DEFAULT_MAX_REDIRECTS); aiohttp's own default is 10.
MAX_REDIRECTS = 20
# httpx.Limits' default keep-alive expiry, which the httpx_aiohttp transport handed to aiohttp.
KEEPALIVE_S = 5.0


@dataclass(slots=True)
class FeedResponse:
    """What `Fetcher` needs of a response, from either engine."""

    status: int
    reason: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    url: str  # after redirects
    raw: AsyncIterator[bytes]  # the body as sent: no content-coding undone


class FeedSessions:
    """One aiohttp session for feeds, created on first use inside the running loop.

    The daemon builds its parts on the storage thread, where no loop runs, and an aiohttp
    session binds to the loop it is created in: so nothing is created before the first fetch.
    One session serves every proxy: aiohttp takes `proxy=` per request and keys its pooled
    connections by proxy (aiohttp ClientRequest.connection_key), so one cookie store is kept,
    as httpx keeps one per client. Whoever builds it closes it (`aclose`).
    """

    def __init__(
        self,
        *,
        user_agent: str,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int = 100,
        proxy_plan: ProxyPlan | None = None,
    ) -> None:
        self.user_agent = user_agent
        self.plan = proxy_plan or ProxyPlan()
        # httpx.Timeout(read, connect=connect) as httpx_aiohttp mapped it: sock_connect is the
        # TCP connect, sock_read the gap between two reads, connect the wait for a pooled
        # connection (httpx's "pool" timeout, which is read_timeout there). No total: the
        # fetcher's deadline bounds the whole fetch (aiohttp's session default is 300 s).
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=read_timeout,
            sock_connect=connect_timeout,
            sock_read=read_timeout,
        )
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}  # per URL: ProxyPlan.for_url parses it
        self.closed = False

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            if self.closed:
                raise RuntimeError("feed sessions already closed")
            # httpx verifies against certifi's bundle (and SSL_CERT_FILE / SSL_CERT_DIR):
            # the same context here, so a portal trusted by one engine is by the other.
            ssl_context = httpx.create_ssl_context(trust_env=True)
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, keepalive_timeout=KEEPALIVE_S, ssl=ssl_context
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # Only gzip and deflate are asked for: fetch.py's _Decoder undoes them itself,
                # bounded (issue 10), so aiohttp must hand over the raw bytes.
                headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
                auto_decompress=False,
                timeout=self.timeout,
                # Portals on a bare IP address (common in provinces) set session cookies too;
                # aiohttp's jar drops cookies of IP hosts unless unsafe=True (aio-libs/aiohttp
                # #968 and #1005). httpx keeps them, and sends values back as the server set
                # them (http.cookiejar), hence quote_cookie=False: the engines stay alike.
                cookie_jar=aiohttp.CookieJar(unsafe=True, quote_cookie=False),
                # The plan decides proxies (CIDR NO_PROXY, [network] proxy), not the env.
                trust_env=False,
            )
        return self._session

    def proxy_for(self, url: str) -> str | None:
        if not self.plan.active:
            return None
        try:
            return self._proxies[url]
        except KeyError:
            proxy = self._proxies[url] = self.plan.for_url(url)
            return proxy

    @contextlib.asynccontextmanager
    async def open(self, url: URL, headers: dict[str, str]) -> AsyncIterator[FeedResponse]:
        """GET `url` (already parsed: see `parse`), redirects followed; the body unread."""
        session = self._session or self.session()
        async with session.get(
            url,
            headers=headers,
            proxy=self.proxy_for(str(url)),
            max_redirects=MAX_REDIRECTS,
        ) as response:
            yield FeedResponse(
                response.status,
                response.reason or "",
                plain_headers(response.raw_headers),
                str(response.url),
                response.content.iter_any(),
            )

    async def aclose(self) -> None:
        self.closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> FeedSessions:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


def parse(url: str) -> URL:
    """A feed URL as aiohttp takes it; ValueError when it is not an absolute http(s) URL."""
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    return parsed


def plain_headers(raw: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-case names to values, repeated headers joined with ", " (as httpx.Headers does).

    Decoded as httpx decodes headers (httpx.Headers.encoding): ASCII, else UTF-8, else
    ISO-8859-1 (which never fails), so both engines hand the same strings to the hints and
    the validators. One pass in the usual all-ASCII case.
    """
    for encoding in ("ascii", "utf-8"):
        try:
            return _joined(raw, encoding)
        except UnicodeDecodeError:
            continue
    return _joined(raw, "iso-8859-1")


def _joined(raw: Sequence[tuple[bytes, bytes]], encoding: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name, value = raw_name.decode(encoding).lower(), raw_value.decode(encoding)
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def timeout_name(exc: BaseException) -> str:
    """httpx's names for a timeout, whichever engine raised it: stored as the source's error
    ("timeout: ReadTimeout"), which staff read and the watcher tells apart from a 404."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "ConnectTimeout"
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return "ReadTimeout"
    return type(exc).__name__
