"""The `syndicator` command: parse arguments, load config, call the core, print.

Global options come before the command: `syndicator --config PATH poll --once`.
Exit codes: 0 success, 1 a failure the command reports (bad config, audit broken, ...),
2 usage errors (argparse).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from syndicator import __version__
from syndicator.cli import (
    aftercare_cmds,
    approvers_cmds,
    audit_cmds,
    discover_cmds,
    ingest,
    ops,
    posts,
    queue_cmds,
    report_cmds,
    sandbox_cmds,
)
from syndicator.cli.common import Context
from syndicator.errors import ConfigError, StorageError, SyndicatorError

Registrar = Callable[[argparse._SubParsersAction], None]
COMMAND_MODULES: list[Registrar] = [
    ingest.register,
    posts.register,
    audit_cmds.register,
    ops.register,
    sandbox_cmds.register,
    approvers_cmds.register,
    aftercare_cmds.register,
    queue_cmds.register,
    discover_cmds.register,  # after ingest: it adds `discover` under `sources`
    report_cmds.register_commands,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syndicator",
        description="Publish official portal articles to a Facebook Page and a Zalo OA.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $SYNDICATOR_CONFIG or ./syndicator.toml)",
    )
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="override logging.level"
    )
    parser.add_argument(
        "--log-format", choices=["auto", "json", "console"], help="override logging.format"
    )
    parser.add_argument("--version", action="version", version=f"syndicator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMAND_MODULES:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(args)
    try:
        return int(args.handler(ctx) or 0)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    except StorageError as exc:
        print(f"database error: {exc}", file=sys.stderr)
        return 1
    except SyndicatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
