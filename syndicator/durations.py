"""Parsing human durations ("5m", "2h", "1h30m", 300) used throughout the config."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Read a duration: a number of seconds, or text such as "90s", "5m", "1h30m", "2d"."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError('expected a duration such as 300, "5m" or "2h"')
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    text = str(value).strip().lower().replace(" ", "")
    if text.isdigit():
        return timedelta(seconds=int(text))
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f'{value!r} is not a duration; write e.g. 300, "90s", "5m", "2h", "1d"')
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """Render a duration compactly ("1h30m", "45s") for tables and messages."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out)
