"""A stand-in provincial portal: serves feeds with ETag/Last-Modified/304, gzip and faults.

Tests publish documents at paths (`portal.put("/rss/tin-tuc.rss", body)`); the demo grows a
feed with new Vietnamese articles as it runs. Faults use the shared queue with the path as the
scope: `portal.add_fault("status", scope="/rss/a.rss", status=503, retry_after=120)`,
`"slow"` (delay), `"drop_before"`, `"truncate"` (send half of the body), `"drip"` (send the
body one byte every `every` seconds: issue 10's slow portal, which never trips a read timeout
because each byte arrives well inside it).

Hostile documents for tests: `put(..., content_encoding="gzip, gzip")` serves the stored bytes
as they are under that header (a decompression bomb is a few KB of nested gzip; RFC 9110
section 8.4.1 says codings are listed in the order applied).
"""

from __future__ import annotations

import gzip
import hashlib
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from aiohttp import web

from syndicator.sandbox.common import DROP_BEFORE, SLOW, SandboxServer, drop_connection


@dataclass
class Document:
    body: bytes
    content_type: str
    etag: str
    last_modified: str
    cache_control: str | None = None
    content_encoding: str | None = None  # served as is, the body already encoded


class PortalServer(SandboxServer):
    name = "portal"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, validators: bool = True) -> None:
        super().__init__(host, port)
        self.documents: dict[str, Document] = {}
        self.validators = validators  # False: a portal that ignores conditional GET
        self.hits: dict[str, int] = {}
        self.not_modified: dict[str, int] = {}

    def put(
        self,
        path: str,
        body: bytes | str,
        content_type: str = "application/rss+xml; charset=utf-8",
        cache_control: str | None = None,
        content_encoding: str | None = None,
    ) -> str:
        """Publish (or replace) a document; return its full URL once the server runs.

        With `content_encoding`, `body` is sent byte for byte under that Content-Encoding.
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.documents[path] = Document(
            data,
            content_type,
            '"' + hashlib.sha1(data).hexdigest()[:16] + '"',
            formatdate(time.time(), usegmt=True),
            cache_control,
            content_encoding,
        )
        return self.url(path)

    def url(self, path: str) -> str:
        return (self._base_url or f"http://{self.host}:{self.port}") + path

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/{path:.*}", self._serve)

    def state(self) -> dict[str, Any]:
        return {
            "documents": sorted(self.documents),
            "hits": self.hits,
            "not_modified": self.not_modified,
        }

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        self.hits[path] = self.hits.get(path, 0) + 1
        fault = self.faults.take(path)
        if fault is not None:
            if fault.kind == SLOW:
                await self._sleep(float(fault.params.get("delay", 1.0)))
            elif fault.kind == DROP_BEFORE:
                return drop_connection(request)
            elif fault.kind == "status":
                headers = {}
                if "retry_after" in fault.params:
                    headers["Retry-After"] = str(fault.params["retry_after"])
                return web.Response(
                    status=int(fault.params.get("status", 500)), text="error", headers=headers
                )
        doc = self.documents.get(path)
        if doc is None:
            return web.Response(status=404, text="not found")
        # RFC 9110: If-None-Match, when sent, decides; If-Modified-Since only without it.
        inm = request.headers.get("If-None-Match")
        unchanged = (
            inm == doc.etag
            if inm is not None
            else request.headers.get("If-Modified-Since") == doc.last_modified
        )
        if self.validators and unchanged:
            self.not_modified[path] = self.not_modified.get(path, 0) + 1
            return web.Response(status=304, headers={"ETag": doc.etag})
        body = doc.body
        if fault is not None and fault.kind == "truncate":
            body = body[: len(body) // 2]
        headers = {"Content-Type": doc.content_type}
        if self.validators:
            headers.update({"ETag": doc.etag, "Last-Modified": doc.last_modified})
        if doc.cache_control:
            headers["Cache-Control"] = doc.cache_control
        if doc.content_encoding is not None:
            headers["Content-Encoding"] = doc.content_encoding
        elif "gzip" in request.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if fault is not None and fault.kind == "drip":
            return await self._drip(request, body, headers, float(fault.params.get("every", 3.0)))
        return web.Response(body=body, headers=headers)

    async def _drip(
        self, request: web.Request, body: bytes, headers: dict[str, str], every: float
    ) -> web.StreamResponse:
        """Headers at once, then one byte every `every` seconds until the body is sent, the
        client gives up, or the server stops."""
        response = web.StreamResponse(headers={**headers, "Content-Length": str(len(body))})
        await response.prepare(request)
        for i in range(len(body)):
            await response.write(body[i : i + 1])
            if self._stopping.is_set():
                break
            await self._sleep(every)
        return response
