"""A stand-in for the office proxy: a forward (absolute-form) and CONNECT proxy that records.

Behaviour imitated, from the public specifications every HTTP proxy follows:
- RFC 9112 section 3.2.2: a client talking to a proxy sends the absolute URI in the request
  line (`GET http://host:port/path HTTP/1.1`); the proxy forwards it in origin form.
- RFC 9110 section 9.3.6: `CONNECT host:port` opens a tunnel; the proxy answers 200 and then
  relays bytes both ways (what clients do for https:// targets).
- RFC 9110 section 7.6.1: `Connection`/`Proxy-*` headers are hop-by-hop, not forwarded.
Each forwarded exchange is on its own upstream connection, and the client connection is
closed after the response, so every request is seen (and recorded) by the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "proxy-authorization", "te"}


@dataclass
class ForwardProxy:
    host: str = "127.0.0.1"
    seen: list[str] = field(default_factory=list)  # "GET http://..." or "CONNECT host:port"
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://{self.host}:{port}"

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def urls(self) -> list[str]:
        return [line.split(" ", 1)[1] for line in self.seen]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        self.seen.append(f"{method} {target}")
        try:
            if method == "CONNECT":
                await self._tunnel(target, reader, writer)
            else:
                await self._forward(method, target, version, lines[1:], reader, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _forward(
        self,
        method: str,
        target: str,
        version: str,
        header_lines: list[str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        parts = urlsplit(target)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = [
            line
            for line in header_lines
            if line and line.split(":", 1)[0].strip().lower() not in HOP_BY_HOP
        ]
        up_reader, up_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        request = [f"{method} {path} {version}", *headers, "Connection: close", "", ""]
        up_writer.write("\r\n".join(request).encode("latin-1"))
        # The request body (if any) and the whole response are relayed as bytes; the upstream
        # closes after its response because we asked it to.
        relay_body = asyncio.create_task(_pipe(reader, up_writer))
        response_head = await up_reader.readuntil(b"\r\n\r\n")
        status, *rest = response_head.decode("latin-1").split("\r\n")
        kept = [h for h in rest if h and h.split(":", 1)[0].strip().lower() not in HOP_BY_HOP]
        writer.write("\r\n".join([status, *kept, "Connection: close", "", ""]).encode("latin-1"))
        await _pipe(up_reader, writer)
        relay_body.cancel()
        with contextlib.suppress(BaseException):
            await relay_body
        up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
