"""`syndicator demo` and `syndicator sandbox`: the job on local stand-ins, no config needed."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syndicator import secretbox
from syndicator.cli.common import Context
from syndicator.durations import parse_duration
from syndicator.errors import StorageError, UsageError
from syndicator.logs import configure_logging


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="run the whole job end to end on local stand-ins (no credentials)"
    )
    p.add_argument("--articles", type=int, default=4, help="sample articles to release (default 4)")
    p.add_argument(
        "--keep-running", action="store_true", help="keep releasing articles until Ctrl-C"
    )
    p.add_argument("--timeout", type=float, default=150.0, help="give up after this many seconds")
    p.set_defaults(handler=demo)

    p = sub.add_parser(
        "sandbox", help="serve the stand-ins (portal, Graph, Zalo, Telegram) for training"
    )
    p.add_argument(
        "--port",
        type=int,
        default=8700,
        help="first port: portal, Graph +1, Zalo +2, Telegram +3, Zalo Bot +4, console +5 "
        "(0: any free)",
    )
    p.add_argument(
        "--write-config",
        metavar="PATH",
        help="write a config for `syndicator --config PATH run` against the stand-ins",
    )
    p.add_argument(
        "--release-every",
        default="30s",
        help="put the next sample article on the portal this often (default 30s)",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="resume the last sandbox database instead of starting clean",
    )
    p.set_defaults(handler=sandbox)


def demo(ctx: Context) -> int:
    from syndicator.sandbox.demo import run_demo

    configure_logging(ctx.args.log_level or "error", ctx.args.log_format or "console")
    return asyncio.run(
        run_demo(
            articles=ctx.args.articles, keep_running=ctx.args.keep_running, timeout=ctx.args.timeout
        )
    )


def sandbox(ctx: Context) -> int:
    configure_logging(ctx.args.log_level or "info", ctx.args.log_format or "console")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(ctx))
    return 0


async def _serve(ctx: Context) -> None:
    from syndicator.sandbox import world as w

    world = w.SandboxWorld(base_port=ctx.args.port)
    try:
        await world.start()
    except OSError as exc:  # a port of the range is taken (another sandbox, another program)
        await world.stop()
        raise UsageError(
            f"cannot listen on ports {ctx.args.port}-{ctx.args.port + 5}: {exc.strerror}; "
            "stop the other program or pick another range with --port (0: any free ports)"
        ) from exc
    console = None
    try:
        from syndicator.sandbox.console import ConsoleServer

        console = ConsoleServer(
            world.telegram,
            world.graph,
            world.zalo,
            staff_chat_id=w.STAFF_CHAT,
            admin_chat_id=w.ADMIN_CHAT,
            trainee_id=w.APPROVER,
            port=ctx.args.port + 5 if ctx.args.port else 0,  # +4 is the Zalo Bot stand-in
        )
        await console.start()
    except ImportError:
        console = None
    except OSError as exc:
        await world.stop()
        raise UsageError(
            f"cannot listen on the console port {ctx.args.port + 5}: {exc.strerror}; "
            "pick another range with --port"
        ) from exc
    config_path = (
        Path(ctx.args.write_config)
        if ctx.args.write_config
        else (Path(tempfile.gettempdir()) / "syndicator-sandbox.toml")
    )
    config_path.parent.mkdir(parents=True, exist_ok=True)
    db = config_path.with_suffix(".db")
    key_file = config_path.with_suffix(".key")
    if ctx.args.keep:
        _resume_tokens(world, db, key_file)
    else:
        start_clean(db)
    config_path.write_text(world.config_toml(f"sqlite:///{db}"), encoding="utf-8")
    print("syndicator sandbox — local stand-ins, no credentials, no network")
    print(
        f"  sample portal  {world.portal.base_url}  (feeds: {', '.join(world.sample.feed_url(s['id']) for s in world.sample.sources)})"
    )
    print(f"  Graph API      {world.graph.base_url}")
    print(f"  Zalo OA        {world.zalo.api_base}  (OAuth {world.zalo.oauth_base})")
    print(f"  Telegram       {world.telegram.base_url}/bot<token>/")
    print(f"  Zalo Bot       {world.zalo_bot.base_url}/bot<token>/")
    if console is not None:
        print(f"  training page  {console.base_url}  (open it in a browser)")
    # The daemon stores rotated Zalo tokens encrypted: a throwaway key kept beside the config.
    secretbox.throwaway_key(key_file)
    print(f"config for the daemon: {config_path}")
    print(
        f"  run it with:   SYNDICATOR_SECRET_KEY=$(cat {key_file}) "
        f"syndicator --config {config_path} run"
    )
    print("Ctrl-C stops the sandbox.")
    every = parse_duration(ctx.args.release_every).total_seconds()
    try:
        while True:
            article = world.sample.release(datetime.now(UTC))
            if article:
                print(f"portal publishes: {article['title']}")
            await asyncio.sleep(every)
    finally:
        if console is not None:
            await console.stop()
        await world.stop()


def start_clean(db: Path) -> None:
    """Remove the last run's database (and SQLite's side files): a fresh stand-in world issues
    new tokens, so an old database would hold a Zalo refresh token nobody knows (issue 14)."""
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)


def _resume_tokens(world: Any, db: Path, key_file: Path) -> None:
    """--keep: seed the Zalo stand-in with the refresh token the database holds, so the daemon
    resumes with a pair that works instead of failing with "refresh token invalid".

    The real service keeps an unused refresh token valid for three months, across any restart
    of ours (api-notes.md 2.x, "Refresh token: valid 3 months, single use"; hexasync.vn guide),
    so a resumed database's token is what real Zalo would still accept."""
    if not db.exists():
        print(f"--keep: no earlier database at {db}; starting clean")
        return
    try:
        refresh = stored_refresh_token(db, key_file, "zalo")
    except StorageError as exc:  # kept as it is: the trainer may want to look at it
        print(f"--keep: cannot read the Zalo token from {db}: {exc}; Zalo will need a new token")
        return
    if refresh is None:
        return
    world.zalo.refresh_token = refresh
    print("--keep: resuming the last database; the Zalo stand-in accepts its refresh token")


def stored_refresh_token(db: Path, key_file: Path, channel: str) -> str | None:
    """The refresh token the sandbox database holds for `channel` (decrypted), or None."""
    import os

    from syndicator.storage import open_storage

    previous = os.environ.get(secretbox.ENV)
    if key_file.exists():
        os.environ[secretbox.ENV] = secretbox.throwaway_key(key_file)
    storage = open_storage(f"sqlite:///{db}", audit_key=None)
    try:
        stored = storage.load_tokens(channel)
    finally:
        storage.close()
        if previous is None:
            os.environ.pop(secretbox.ENV, None)
        else:
            os.environ[secretbox.ENV] = previous
    return stored.refresh_token if stored is not None else None
