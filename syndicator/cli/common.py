"""What every command needs: the loaded config, storage, output helpers."""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from syndicator.config import Settings, config_path, load_config
from syndicator.errors import UsageError
from syndicator.logs import configure_logging
from syndicator.storage import Storage


class Context:
    """Loads config and opens storage lazily, once per command."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._settings: Settings | None = None
        self._storage: Storage | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            settings = load_config(config_path(self.args.config))
            import daemon

            daemon.channel_settings(settings)  # channel tables fail here, before any database
            self._settings = settings
            logging_cfg = self._settings.logging
            configure_logging(
                self.args.log_level or logging_cfg.level,
                self.args.log_format or logging_cfg.format,
            )
        return self._settings

    @property
    def config_file(self) -> str:
        """The config file as an absolute path: the daemon re-reads it on SIGHUP, whatever its
        working directory (the shipped unit runs in /var/lib/syndicator)."""
        return str(config_path(self.args.config).expanduser().resolve())

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            import daemon

            self._storage = daemon.build_storage(self.settings)
        return self._storage


def parse_since(value: str | None) -> datetime | None:
    """--since accepts ISO 8601 dates or datetimes; naive values are read as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"--since: {value!r} is not an ISO 8601 date or datetime") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], out: Any = None) -> None:
    out = out or sys.stdout
    text_rows = [["" if c is None else printable(str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line.rstrip(), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in text_rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


def printable(text: str) -> str:
    """`text` with every non-printable character escaped (\\x1b, \\u202e, \\n): a portal's
    title must not move the cursor, recolour the terminal or reverse what follows."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def print_jsonl(rows: Iterable[dict[str, Any]], out: Any = None) -> None:
    out = out or sys.stdout
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def shorten(text: str, width: int) -> str:
    """At most `width` characters on one line, cut at a word boundary and ended with "…".

    Whitespace (newlines too) is folded first, so a cell never breaks a table row. A cut never
    lands inside a Vietnamese syllable nor before a combining mark; a single word longer than
    the cell is the one case cut mid-word (there is no space to cut at)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = text[: width - 1]
    space = head.rfind(" ")
    if space > 0 and (text[width - 1] == " " or space >= width // 3):
        head = head[:space] if text[width - 1] != " " else head
    else:
        while head and unicodedata.combining(text[len(head)]):
            head = head[:-1]  # keep a base letter with its marks (NFD input)
    return head.rstrip(" ,;:.") + "…"


# -- times people read --------------------------------------------------------------------------
# Tables show Vietnam time with the zone named in the column header (the staff think in local
# time; issue 14: `articles` printed UTC without saying so); `--utc` switches to UTC. Machine
# formats (jsonl, csv, audit export) stay ISO 8601 UTC.
LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


def add_utc_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--utc", action="store_true", help="show times in UTC (default: Asia/Ho_Chi_Minh)"
    )


def zone_of(args: argparse.Namespace) -> tuple[tzinfo, str]:
    """The zone tables use and its name for headers: Asia/Ho_Chi_Minh unless --utc."""
    return (UTC, "UTC") if getattr(args, "utc", False) else (LOCAL_ZONE, "Asia/Ho_Chi_Minh")


def clock(value: datetime | None, zone: tzinfo, empty: str = "") -> str:
    """`YYYY-MM-DD HH:MM` in `zone` (naive values are UTC, as storage keeps them)."""
    if value is None:
        return empty
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(zone).strftime("%Y-%m-%d %H:%M")
