"""`syndicator audit verify|export`."""

from __future__ import annotations

import sys
from typing import Any

from syndicator.audit import AUDIT_KEY_ENV, SECRET_KEY_ENV, export_csv, export_jsonl, parse_anchor
from syndicator.cli.common import Context, parse_since
from syndicator.errors import UsageError


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="verify or export the audit trail")
    audit_sub = p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    v = audit_sub.add_parser("verify", help="check the hash chain; exit 1 naming the first bad row")
    v.add_argument(
        "--anchor",
        metavar="ID:HASH",
        action="append",
        help="a head published earlier (report, register export, bot); fails when the trail "
        "no longer contains it with that hash (repeatable)",
    )
    v.set_defaults(handler=verify)
    e = audit_sub.add_parser("export", help="write the trail to stdout")
    e.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    e.add_argument("--since", metavar="ISO")
    e.add_argument("--kind", action="append", help="only events of this kind (repeatable)")
    e.set_defaults(handler=export)


def verify(ctx: Context) -> int:
    try:
        anchors = [parse_anchor(a) for a in ctx.args.anchor or []]
    except ValueError as exc:
        raise UsageError(f"--anchor: {exc}") from exc
    storage = ctx.storage
    results = [storage.verify_audit(anchor) for anchor in anchors] or [storage.verify_audit()]
    bad = next((r for r in results if not r.ok), None)
    if bad is None:
        result = results[0]
        head = f"; head {result.head[0]}:{result.head[1]}" if result.head else ""
        print(f"audit trail OK: {result.checked} event(s), chain intact{head}")
        if result.legacy:
            print(
                f"  {result.legacy} unkeyed row(s) before the keyed segment (see docs/reports.md)"
            )
        for anchor_id, anchor_hash in anchors:
            print(f"  anchor {anchor_id}:{anchor_hash[:16]}... present with that hash")
        if storage.audit_key is None:
            print(
                f"warning: no audit key ({AUDIT_KEY_ENV} or {SECRET_KEY_ENV} unset): the chain "
                "shows edits but not a full recomputation; only published anchors catch that",
                file=sys.stderr,
            )
        return 0
    where = f" at row {bad.bad_id}" if bad.bad_id is not None else ""
    print(f"audit trail BROKEN{where}: {bad.reason}", file=sys.stderr)
    print(f"({bad.checked} row(s) before it verified)", file=sys.stderr)
    return 1


def export(ctx: Context) -> int:
    events = ctx.storage.audit_events(since=parse_since(ctx.args.since), kinds=ctx.args.kind)
    writer = export_csv if ctx.args.format == "csv" else export_jsonl
    for chunk in writer(events):
        sys.stdout.write(chunk)
    return 0
