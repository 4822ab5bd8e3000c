"""A report (build.py's dict) written as json, csv, md or html. Pure: dict in, text out.

Every format ends with the audit head, the anchor an inspector can later check with
`syndicator audit verify --anchor ID:HASH`.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Callable
from typing import Any

FORMATS = ("md", "html", "csv", "json")
STAGES = {
    "portal_to_detected": "portal → detected",
    "detected_to_preview": "detected → preview",
    "preview_to_decision": "preview → decision",
    "decision_to_live": "decision → live",
}


def render(report: dict[str, Any], fmt: str, charts: dict[str, bytes] | None = None) -> str:
    renderers: dict[str, Callable[[dict[str, Any]], str]] = {
        "json": to_json, "csv": to_csv, "md": to_markdown,
        "html": lambda r: to_html(r, charts or {}),
    }  # fmt: skip
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return renderers[fmt](report)


def head_text(report: dict[str, Any]) -> str:
    head = report["audit_head"]
    return f"{head['id']}:{head['hash']}" if head.get("hash") else "0:(empty trail)"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def _channels(report: dict[str, Any]) -> list[str]:
    return sorted({c for r in report["agencies"] for c in r["published"]})


def _agency_table(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    channels = _channels(report)
    headers = ["agency", "articles", *[f"published_{c}" for c in channels]]
    headers += ["rejected", "expired", "held", "failed", "last_article_at", "missing_categories"]
    rows = []
    for r in report["agencies"]:
        missing = report["missing_categories"].get(r["agency"], [])
        rows.append(
            [r["agency"], r["articles"], *[r["published"].get(c, 0) for c in channels],
             r["rejected"], r["expired"], r["held"], r["failed"], r["last_article_at"] or "",
             " ".join(missing)]
        )  # fmt: skip
    return headers, rows


def to_csv(report: dict[str, Any]) -> str:
    """One row per agency; the audit head on the last line."""
    out = io.StringIO()
    writer = csv.writer(out)
    headers, rows = _agency_table(report)
    writer.writerow(headers)
    writer.writerows(rows)
    writer.writerow(["audit_head", head_text(report)])
    return out.getvalue()


def _md_table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _sections(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report's tables, shared by md and html: (title, headers, rows)."""
    t = report["timeliness"]
    timing = [
        ["(all)", *[f"{duration(t['overall'][s]['median_s'])} / "
                    f"{duration(t['overall'][s]['p90_s'])}" for s in STAGES]]
    ] + [
        [agency, *[f"{duration(m[s]['median_s'])} / {duration(m[s]['p90_s'])}" for s in STAGES]]
        for agency, m in t["by_agency"].items()
    ]  # fmt: skip
    headers, rows = _agency_table(report)
    out = [
        ("Agencies", headers, rows),
        ("Timeliness (median / 90th percentile)", ["agency", *STAGES.values()], timing),
        ("Failures by channel and class", ["channel", "class", "event", "count"],
         [[f["channel"], f["class"], f["event"], f["count"]] for f in report["failures"]]),
        ("Channel incidents", ["channel", "state", "reason", "started", "ended", "in period"],
         [[i["channel"], i["state"], i["reason"] or "", i["started_at"],
           i["ended_at"] or "ongoing", duration(i["seconds_in_period"])]
          for i in report["incidents"]]),
    ]  # fmt: skip
    if "ranking" in report:
        rk = report["ranking"]
        out.append(
            ("Ranking", ["rank", "agency", "score", "weeks active", "categories", "articles"],
             [[a["rank"], a["agency"], a["score"], f"{a['weeks_active']}/{a['weeks']}",
               f"{a['categories_covered']}/{a['categories_expected']}", a["articles"]]
              for a in rk["agencies"]])
        )  # fmt: skip
    return out


def _summary_lines(report: dict[str, Any]) -> list[str]:
    totals = report["totals"]
    lines = [
        f"Period: {report['from']} – {report['to']} ({report['label']}, Asia/Ho_Chi_Minh)",
        f"New articles: {totals['articles']}; posts published: {totals['published']}; "
        f"rejected: {totals['rejected']}; expired: {totals['expired']}; held: {totals['held']}",
        "Agencies with no new article: " + (", ".join(report["silent_agencies"]) or "none"),
    ]
    if "ranking" in report:
        rk = report["ranking"]
        lines.append(f"Best: {', '.join(rk['best'])}; weakest: {', '.join(rk['weakest'])}")
        lines.append(f"Scoring: {rk['method']}")
    return lines


def to_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Publication report {report['label']}", ""]
    lines += [f"- {line}" for line in _summary_lines(report)] + [""]
    for title, headers, rows in _sections(report):
        lines += [f"## {title}", ""] + (_md_table(headers, rows) if rows else ["(none)"]) + [""]
    lines += ["## Missing expected categories", ""]
    for agency, keys in report["missing_categories"].items():
        lines.append(f"- {agency}: {', '.join(keys)}")
    lines += ["", f"Audit head: `{head_text(report)}`", ""]
    return "\n".join(lines)


def to_html(report: dict[str, Any], charts: dict[str, bytes]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Publication report {e(report['label'])}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}</style></head><body>",
        f"<h1>Publication report {e(report['label'])}</h1><ul>",
        *[f"<li>{e(line)}</li>" for line in _summary_lines(report)],
        "</ul>",
    ]
    for name, png in charts.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<p><img alt='{e(name)}' src='data:image/png;base64,{data}'></p>")
    for title, headers, rows in _sections(report):
        parts.append(f"<h2>{e(title)}</h2>")
        if not rows:
            parts.append("<p>(none)</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in rows]
        parts.append("</table>")
    parts.append("<h2>Missing expected categories</h2><ul>")
    parts += [
        f"<li>{e(a)}: {e(', '.join(k))}</li>" for a, k in report["missing_categories"].items()
    ]
    parts.append(f"</ul><p>Audit head: <code>{e(head_text(report))}</code></p></body></html>")
    return "\n".join(parts) + "\n"
