"""No coroutine calls storage directly (issue 11, point 3): the loop never waits for a database.

Storage is synchronous. An `async def` that calls `storage.x(...)` (or `self.storage.x(...)`,
`bot.storage.x(...)`, ...) runs that call on the event loop, so a held SQLite write lock (busy
timeout 30 s) would freeze the bots, /healthz and every channel. Such calls go through
`aio.call` / `aio.read` (syndicator/storage/aio.py) instead, which pass the method as an
argument: `await aio.call(self.storage.decide, ...)`.

This reads the source (ast) of the daemon's package and its entry point and fails on any direct
call inside an `async def` body (a nested plain `def` or lambda is not the coroutine's body: it
is what gets handed to aio). It cannot see a storage call made by a plain helper the coroutine
calls; those helpers say "blocking" in their docstring and are handed to aio the same way,
and tests/core/test_loop_stall.py checks the behaviour with a real held lock.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORAGE_NAMES = {"storage", "store"}

# (file relative to the repository, async function, storage method) -> why it is harmless.
# Only for calls proven cheap and lock-free (no I/O, no database). Empty: none is needed.
ALLOWED: dict[tuple[str, str, str], str] = {}


def _is_storage(node: ast.expr) -> bool:
    """`storage`, `store`, or any `<expr>.storage` / `<expr>.store`."""
    if isinstance(node, ast.Name):
        return node.id in STORAGE_NAMES
    return isinstance(node, ast.Attribute) and node.attr in STORAGE_NAMES


def _body_nodes(fn: ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """Every node of the coroutine's own body, not of functions defined inside it."""
    stack: list[ast.AST] = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def direct_storage_calls(source: str, filename: str) -> list[tuple[str, str, str, int]]:
    """(file, coroutine, method, line) of each storage call made inside an async def body."""
    found = []
    for fn in ast.walk(ast.parse(source, filename)):
        if not isinstance(fn, ast.AsyncFunctionDef):
            continue
        for node in _body_nodes(fn):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and _is_storage(node.func.value)
            ):
                found.append((filename, fn.name, node.func.attr, node.lineno))
    return found


def _sources() -> Iterator[Path]:
    yield ROOT / "daemon.py"
    yield from sorted((ROOT / "syndicator").rglob("*.py"))


def test_no_async_def_calls_storage_directly() -> None:
    """Every storage call from a coroutine in syndicator/ and daemon.py goes through aio."""
    offending = []
    for path in _sources():
        name = str(path.relative_to(ROOT))
        for file, coroutine, method, line in direct_storage_calls(path.read_text("utf-8"), name):
            if (file, coroutine, method) not in ALLOWED:
                offending.append(f"{file}:{line} {coroutine}() calls storage.{method}()")
    assert not offending, "storage called on the event loop:\n" + "\n".join(offending)


def test_the_guard_sees_what_it_must_and_nothing_else() -> None:
    """The checker flags direct calls (any receiver ending in .storage) and ignores calls
    handed to aio, nested helpers, and plain functions."""
    source = """
async def bad(self, bot, storage):
    self.storage.decide([1])
    bot.surface.storage.get_value("k")
    if storage.ping():
        pass

async def good(self, bot):
    await aio.call(self.storage.decide, [1])
    posts = await aio.read(lambda: bot.storage.list_posts())

    def helper():
        return bot.storage.get_value("k")

    await aio.call(helper)

def plain(storage):
    return storage.list_posts()
"""
    found = {(fn, method) for _f, fn, method, _l in direct_storage_calls(source, "x.py")}
    assert found == {("bad", "decide"), ("bad", "get_value"), ("bad", "ping")}


def test_the_allow_list_does_not_rot() -> None:
    """Every allowed call still exists and says why it is harmless."""
    present = {
        (file, coroutine, method)
        for path in _sources()
        for file, coroutine, method, _line in direct_storage_calls(
            path.read_text("utf-8"), str(path.relative_to(ROOT))
        )
    }
    for key, why in ALLOWED.items():
        assert key in present, f"{key} is allowed but no longer called: remove it"
        assert why.strip(), f"{key} needs a reason"
