"""`syndicator audit verify|export`."""

from __future__ import annotations

import sys
from typing import Any

from syndicator.audit import export_csv, export_jsonl
from syndicator.cli.common import Context, parse_since


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="verify or export the audit trail")
    audit_sub = p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    v = audit_sub.add_parser("verify", help="check the hash chain; exit 1 naming the first bad row")
    v.set_defaults(handler=verify)
    e = audit_sub.add_parser("export", help="write the trail to stdout")
    e.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    e.add_argument("--since", metavar="ISO")
    e.add_argument("--kind", action="append", help="only events of this kind (repeatable)")
    e.set_defaults(handler=export)


def verify(ctx: Context) -> int:
    result = ctx.storage.verify_audit()
    if result.ok:
        print(f"audit trail OK: {result.checked} event(s), chain intact")
        return 0
    print(f"audit trail BROKEN at row {result.bad_id}: {result.reason}", file=sys.stderr)
    print(f"({result.checked} row(s) before it verified)", file=sys.stderr)
    return 1


def export(ctx: Context) -> int:
    events = ctx.storage.audit_events(since=parse_since(ctx.args.since), kinds=ctx.args.kind)
    writer = export_csv if ctx.args.format == "csv" else export_jsonl
    for chunk in writer(events):
        sys.stdout.write(chunk)
    return 0
