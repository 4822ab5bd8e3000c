"""Which proxy an outbound call goes through: `[network] proxy`, HTTPS_PROXY and NO_PROXY.

A province server usually reaches the internet through the office proxy, and Telegram is
blocked by Vietnamese ISPs (since May 2025), so the approval bot may need a proxy abroad.
Every client the composition root builds — the shared one (feeds, Graph, Zalo, Zalo OAuth),
the feeds' aiohttp engine (sources/feed_session.py) and python-telegram-bot's two — asks
`ProxyPlan.for_url` and nothing else, so one rule decides.

Rules (those of curl's CURLOPT_NOPROXY and httpx's environment support, plus CIDR ranges,
which offices use and httpx's mount patterns cannot express):
- `[network] proxy` replaces HTTP_PROXY / HTTPS_PROXY / ALL_PROXY; without it those apply
  (lower-case names win, as in curl).
- NO_PROXY (or no_proxy) always applies: `*` switches proxies off; `example.gov.vn` covers the
  host and its subdomains; `.example.gov.vn` only subdomains; an IP address or a CIDR range
  (`10.0.0.0/8`) covers literal addresses; `host:port` only that port.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

SCHEMES = ("http", "https")


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name.lower()) or env.get(name.upper())
    return value.strip() if value and value.strip() else None


def _with_scheme(proxy: str) -> str:
    return proxy if "://" in proxy else f"http://{proxy}"


@dataclass(frozen=True, slots=True)
class ProxyPlan:
    """Proxy URL per target scheme, and the NO_PROXY entries; pure and cheap to ask."""

    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def build(cls, configured: str | None, env: Mapping[str, str]) -> ProxyPlan:
        no_proxy = tuple(
            part.strip().lower()
            for part in (_env(env, "no_proxy") or "").split(",")
            if part.strip()
        )
        if configured:
            return cls(configured, configured, no_proxy)
        fallback = _env(env, "all_proxy")
        http = _env(env, "http_proxy") or fallback
        https = _env(env, "https_proxy") or fallback
        return cls(
            _with_scheme(http) if http else None, _with_scheme(https) if https else None, no_proxy
        )

    @property
    def active(self) -> bool:
        return bool(self.http or self.https) and "*" not in self.no_proxy

    def for_url(self, url: str | httpx.URL) -> str | None:
        """The proxy for this URL, or None to connect directly."""
        if isinstance(url, httpx.URL):  # already parsed: the per-request path stays cheap
            scheme, host, port = url.scheme, url.host, url.port
        else:
            parts = urlsplit(url)
            scheme, host, port = (parts.scheme or "http").lower(), parts.hostname or "", parts.port
        proxy = self.https if scheme == "https" else self.http if scheme == "http" else None
        if proxy is None or self.exempt(host, port):
            return None
        return proxy

    def exempt(self, host: str, port: int | None = None) -> bool:
        host = host.lower().strip("[]").rstrip(".")
        address = _address(host)
        for entry in self.no_proxy:
            if entry == "*":
                return True
            name, entry_port = _split_port(entry)
            if entry_port is not None and entry_port != port:
                continue
            if address is not None and "/" in name:
                try:
                    if address in ipaddress.ip_network(name, strict=False):
                        return True
                except ValueError:
                    pass
                continue
            if name.startswith("."):
                if host.endswith(name):
                    return True
            elif host == name or host.endswith("." + name):
                return True
        return False

    def describe(self) -> str:
        """For check-config and logs: the proxy without its password."""
        if not self.active:
            return "direct (no proxy)"
        shown = {_hide_password(p) for p in (self.http, self.https) if p}
        text = ", ".join(sorted(shown))
        return text + (f"; NO_PROXY {','.join(self.no_proxy)}" if self.no_proxy else "")


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("[") and "]" in entry:  # [::1]:8080
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


class RoutingTransport(httpx.AsyncBaseTransport):
    """Sends each request through the transport for its proxy (or the direct one).

    httpx's own `mounts` cannot express CIDR exemptions, and the aiohttp transport takes one
    fixed proxy; routing per request here gives both transports the same rules.
    """

    def __init__(
        self,
        plan: ProxyPlan,
        make: Callable[[str | None], httpx.AsyncBaseTransport],
    ) -> None:
        self.plan = plan
        self._make = make
        self._transports: dict[str | None, httpx.AsyncBaseTransport] = {}

    def _for(self, proxy: str | None) -> httpx.AsyncBaseTransport:
        transport = self._transports.get(proxy)
        if transport is None:
            transport = self._transports[proxy] = self._make(proxy)
        return transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxy = self.plan.for_url(request.url) if self.plan.active else None
        return await self._for(proxy).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()
        self._transports.clear()


def plan_for(settings: Any, env: Mapping[str, str] | None = None) -> ProxyPlan:
    """The plan of a Settings: `[network] proxy`, then the process environment."""
    return ProxyPlan.build(settings.network.proxy, os.environ if env is None else env)


def telegram_proxy(settings: Any) -> str | None:
    """The proxy for python-telegram-bot's clients: every call goes to `[approval] api_base`."""
    return plan_for(settings).for_url(settings.approval.api_base)
