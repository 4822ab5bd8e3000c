"""`syndicator report` and `syndicator register export`: thin wrappers over syndicator.reports."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from syndicator.cli.common import Context
from syndicator.errors import UsageError
from syndicator.reports import charts, register
from syndicator.reports.build import ReportSpec, build_report
from syndicator.reports.period import KINDS, Period, date_range, last_period
from syndicator.reports.render import FORMATS, head_text, render


def register_commands(sub: Any) -> None:
    p = sub.add_parser("report", help="what each agency published, how fast, what failed")
    p.add_argument("--period", choices=KINDS, help="the last complete week, month or quarter")
    p.add_argument("--from", dest="date_from", metavar="DATE", help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", metavar="DATE", help="last day, inclusive")
    p.add_argument("--format", choices=FORMATS, default="md")
    p.add_argument("--out", metavar="PATH", help="write here instead of stdout")
    p.set_defaults(handler=report)
    r = sub.add_parser("register", help="the publication register for inspectors")
    r_sub = r.add_subparsers(dest="register_command", required=True, metavar="ACTION")
    e = r_sub.add_parser("export", help="one row per published, failed or rejected post")
    e.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    e.add_argument("--from", dest="date_from", metavar="DATE", help="first day (YYYY-MM-DD)")
    e.add_argument("--to", dest="date_to", metavar="DATE", help="last day, inclusive")
    e.add_argument("--headers", choices=["en", "vi"], default="en", help="CSV column names")
    e.add_argument("--out", metavar="PATH", help="write here instead of stdout")
    e.set_defaults(handler=register_export)


def _period(ctx: Context, default: str | None) -> Period | None:
    args = ctx.args
    if getattr(args, "period", None) and (args.date_from or args.date_to):
        raise UsageError("give either --period or --from/--to, not both")
    try:
        if args.date_from or args.date_to:
            if not (args.date_from and args.date_to):
                raise UsageError("--from and --to go together")
            return date_range(args.date_from, args.date_to)
        kind = getattr(args, "period", None) or default
        return last_period(kind, ctx.now) if kind else None
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _write(out: str | None, chunks: Iterable[str]) -> None:
    if out is None:
        for chunk in chunks:
            sys.stdout.write(chunk)
        return
    path = Path(out)
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc}") from exc


def report(ctx: Context) -> int:
    period = _period(ctx, "week")
    assert period is not None
    result = build_report(ctx.storage, period, ReportSpec.from_settings(ctx.settings))
    images = {}
    if ctx.args.format == "html":
        images = {
            "articles": charts.articles_chart(result),
            "timeliness": charts.timeliness_chart(result),
        }
    _write(ctx.args.out, [render(result, ctx.args.format, images)])
    if ctx.args.out:
        print(f"report {result['label']} written to {ctx.args.out}; audit head {head_text(result)}")
    return 0


def register_export(ctx: Context) -> int:
    period = _period(ctx, None)
    storage = ctx.storage
    head = storage.audit_head()  # read first: the rows then cover at least this much trail
    rows = register.register_rows(storage, period.start if period else None,
                                  period.end if period else None)  # fmt: skip
    if ctx.args.format == "csv":
        chunks = register.export_csv(rows, head, vietnamese=ctx.args.headers == "vi")
    else:
        chunks = register.export_jsonl(rows, head)
    _write(ctx.args.out, chunks)
    return 0
