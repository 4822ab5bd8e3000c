"""What the three stand-in servers share: running inside a loop, fault queues, control routes.

Each stand-in is a `SandboxServer` subclass that builds one aiohttp application. The server runs
on 127.0.0.1 with port 0 by default, so parallel tests never fight over a port, and `start()`
returns the base URL the client under test should be configured with.

Faults are queued per *scope* (a route kind such as "publish" or a method name) and consumed by
the next matching call, so a test says "the next two publish calls fail with 17" and nothing
else is affected. The same queue is reachable over HTTP (`POST /_sandbox/faults`) for tests that
run the daemon in a subprocess.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ANY = "any"

# Kinds every server understands; each server adds its own "error" flavour on top.
HANG = "accept_then_hang"  # do the work, hold the connection, then drop it without an answer
DROP = "drop"  # do the work, then drop the connection at once
ACCEPT_THEN_DROP = "accept_then_drop"  # the same as DROP, under the name the notes use
DROP_BEFORE = "drop_before"  # drop the connection without doing the work
HTTP500 = "http500_no_body"  # answer 500 with an empty body, without doing the work
SLOW = "slow"  # wait `delay` seconds, then behave normally
ERROR = "error"  # answer with the server's documented error envelope


@dataclass
class Fault:
    """One queued failure: its kind, where it applies and kind-specific parameters."""

    kind: str
    scope: str = ANY
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def commits(self) -> bool:
        """Whether the call still takes effect (the ambiguous-outcome faults)."""
        return self.kind in (HANG, DROP, ACCEPT_THEN_DROP) or bool(self.params.get("commit"))

    def to_json(self) -> dict[str, Any]:
        """Plain form for the state endpoint."""
        return {"kind": self.kind, "scope": self.scope, **self.params}


class FaultQueue:
    """Per-scope FIFO of faults; a call looks at its own scope first, then at "any"."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}

    def add(self, kind: str, scope: str = ANY, times: int = 1, **params: Any) -> None:
        """Queue `times` copies of one fault for `scope`."""
        if times < 1:
            raise ValueError("times must be at least 1")
        queue = self._queues.setdefault(scope.lower(), deque())
        queue.extend(Fault(kind, scope.lower(), dict(params)) for _ in range(times))

    def take(self, *scopes: str, include_any: bool = True) -> Fault | None:
        """Pop the first fault queued for any of `scopes` (most specific first) or for "any"."""
        for scope in (*scopes, ANY) if include_any else scopes:
            queue = self._queues.get(scope.lower())
            if queue:
                return queue.popleft()
        return None

    def clear(self) -> None:
        """Forget every queued fault."""
        self._queues.clear()

    def pending(self) -> list[dict[str, Any]]:
        """Everything still queued, for the state endpoint."""
        return [fault.to_json() for queue in self._queues.values() for fault in queue]


def drop_connection(request: web.Request) -> web.Response:
    """Abort the TCP connection so the client sees a reset with no response at all.

    The returned response is never written; aiohttp just needs a return value.
    """
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None):
    """A JSON response that keeps Vietnamese text readable in logs and captures."""
    return web.json_response(
        payload,
        status=status,
        headers=headers,
        dumps=lambda value: json.dumps(value, ensure_ascii=False),
    )


class SandboxServer(abc.ABC):
    """Base class: owns the aiohttp runner and the control routes under `/_sandbox/`."""

    name = "sandbox"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.faults = FaultQueue()
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._base_url: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> str:
        """Bind and serve inside the running loop; return the base URL (no trailing slash)."""
        if self._runner is not None:
            raise RuntimeError(f"{self.name} sandbox is already running")
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/_sandbox/{action}", self._control)
        app.router.add_get("/_sandbox/state", self._state_route)
        self.add_routes(app)
        # handler_cancellation: a client that gives up on a held request (long poll, hang
        # fault) must free its handler; a short shutdown_timeout keeps stop() quick.
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.2,
            handler_cancellation=True,
        )  # fmt: skip
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        port = self._runner.addresses[0][1]
        self._base_url = f"http://{self.host}:{port}"
        return self._base_url

    async def stop(self) -> None:
        """Release held connections and close the listening socket."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The URL `start()` returned."""
        if self._base_url is None:
            raise RuntimeError(f"{self.name} sandbox is not started")
        return self._base_url

    # -- what subclasses provide -------------------------------------------------------------

    @abc.abstractmethod
    def add_routes(self, app: web.Application) -> None:
        """Register the vendor routes."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """Everything a test may want to assert on, as plain JSON-able data."""

    def control_actions(self) -> dict[str, Callable[..., Any]]:
        """Methods reachable as `POST /_sandbox/<name>` with a JSON object of keyword args."""
        return {"faults": self.add_fault, "clear_faults": self.faults.clear}

    # -- shared behaviour --------------------------------------------------------------------

    def add_fault(self, kind: str, scope: str = ANY, times: int = 1, **params: Any) -> None:
        """Queue a fault; see the module docstring of each server for kinds and scopes."""
        self.faults.add(kind, scope, times, **params)

    async def apply_transport_fault(
        self,
        request: web.Request,
        fault: Fault | None,
        commit: Callable[[], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Run the kinds that look the same on every vendor; `commit` does the real work.

        Returns the response to send. Error-envelope faults are left to the caller.
        """
        if fault is None:
            return await commit()
        if fault.kind == SLOW:
            await self._sleep(float(fault.params.get("delay", 1.0)))
            return await commit()
        if fault.kind == DROP_BEFORE:
            return drop_connection(request)
        if fault.kind == HTTP500:
            if fault.commits:
                await commit()
            return web.Response(status=int(fault.params.get("status", 500)), body=b"")
        if fault.kind in (HANG, DROP, ACCEPT_THEN_DROP):
            await commit()
            if fault.kind == HANG:
                await self._sleep(float(fault.params.get("hold", 30.0)))
            return drop_connection(request)
        raise ValueError(f"{self.name} sandbox: unknown fault kind {fault.kind!r}")

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up early when the server stops so stop() never waits on a hang."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def log_request(self, method: str, path: str, params: dict[str, Any]) -> None:
        """Remember a call so tests can assert on the exact outgoing request."""
        self.requests.append({"at": time.time(), "method": method, "path": path, "params": params})

    async def _control(self, request: web.Request) -> web.Response:
        refused = _browser_refusal(request)
        if refused is not None:
            return refused
        action = self.control_actions().get(request.match_info["action"])
        if action is None:
            return json_response({"ok": False, "error": "unknown sandbox action"}, status=404)
        try:
            body = await request.json() if request.can_read_body else {}
        except json.JSONDecodeError:
            return json_response({"ok": False, "error": "body must be a JSON object"}, 400)
        if not isinstance(body, dict):
            return json_response({"ok": False, "error": "body must be a JSON object"}, 400)
        try:
            result = action(**body)
        except (TypeError, ValueError, KeyError, LookupError) as exc:
            return json_response({"ok": False, "error": str(exc)}, status=400)
        return json_response({"ok": True, "result": result})

    async def _state_route(self, request: web.Request) -> web.Response:
        return json_response({**self.state(), "faults": self.faults.pending()})


def _browser_refusal(request: web.Request) -> web.Response | None:
    """Why a control POST is refused, or None: a web page must not drive the stand-ins.

    The control routes inject staff button presses and faults. Tests, the bench and the CLI send
    JSON without an `Origin`; a page on another site the trainee has open could otherwise press
    buttons through a "simple" cross-site POST (a form or `fetch(..., {mode: "no-cors"})` with
    `text/plain`, which needs no CORS preflight). So: a body must be `application/json` (anything
    else from a browser needs a preflight this server never grants), and a request that a browser
    marks as coming from another origin (`Origin`, `Sec-Fetch-Site`) is refused outright. Same
    rule as the training console's guard (console.py).
    """
    if request.can_read_body and request.content_type != "application/json":
        return json_response({"ok": False, "error": "JSON only"}, status=415)
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() != f"http://{request.host.lower()}":
        return json_response({"ok": False, "error": "cross-origin request refused"}, status=403)
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return json_response({"ok": False, "error": "cross-site request refused"}, status=403)
    return None
