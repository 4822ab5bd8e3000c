"""One report: the SQL figures (queries.py) assembled into the JSON-shaped dict every format uses.

`assemble` is pure (grouped rows in, report out); `build_report` runs the queries in one read
transaction and adds the audit head. The JSON field names are the contract of issue 12.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from syndicator.errors import StorageError
from syndicator.reports import queries
from syndicator.reports.period import Period
from syndicator.types import CATEGORIES

if TYPE_CHECKING:
    from syndicator.config import Settings
    from syndicator.storage import Storage

# Nghị định 43 keys other than tin_tuc ([reports] expected_categories).
DEFAULT_EXPECTED = tuple(key for key in CATEGORIES if key != "tin_tuc")
# Ranking weights (docs/reports.md): publishing every week, and covering the mandated kinds.
REGULARITY_POINTS, COVERAGE_POINTS = 50.0, 50.0
RANK_SHOWN = 3


@dataclass(frozen=True)
class ReportSpec:
    """Which agencies are expected to publish what (from the config's sources)."""

    expected: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # agency -> keys
    default_expected: tuple[str, ...] = DEFAULT_EXPECTED

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportSpec:
        cfg = settings.reports
        expected: dict[str, set[str]] = {}
        for source in settings.sources:
            if not source.enabled:
                continue
            keys = cfg.expected_by_source.get(source.id, cfg.expected_categories)
            # An agency with several feeds is expected to cover the union of their lists.
            expected.setdefault(source.agency_name, set()).update(keys)
        return cls(
            {a: tuple(sorted(k)) for a, k in expected.items()}, tuple(cfg.expected_categories)
        )

    def expected_of(self, agency: str) -> tuple[str, ...]:
        return self.expected.get(agency, self.default_expected)


def build_report(storage: Storage, period: Period, spec: ReportSpec) -> dict[str, Any]:
    """Every figure from one consistent read of the database, plus the audit head."""
    try:
        with storage.reader.connect() as conn, conn.begin():
            data = queries.collect(conn, period.start, period.end)
    except StorageError:
        raise
    except Exception as exc:  # the driver's own errors (connection refused...)
        raise StorageError(f"report failed: {exc}") from exc
    head = storage.audit_head()
    return assemble(period, spec, data, head)


def assemble(
    period: Period,
    spec: ReportSpec,
    data: Mapping[str, Any],
    head: tuple[int, str] | None,
) -> dict[str, Any]:
    articles: dict[str, int] = data["articles"]
    last_at: dict[str, datetime] = data["last_article_at"]
    categories: dict[str, dict[str, int]] = data["by_category"]
    states: dict[str, dict[tuple[str, str], int]] = data["post_states"]
    known = sorted(set(spec.expected) | set(articles) | set(last_at))
    rows: list[dict[str, Any]] = []
    for agency in known:
        st = states.get(agency, {})
        published: dict[str, int] = {}
        for (channel, status), n in sorted(st.items()):
            if status == "published":
                published[channel] = published.get(channel, 0) + n

        def count(status: str, st: dict[tuple[str, str], int] = st) -> int:
            return sum(n for (_, s), n in st.items() if s == status)

        rows.append(
            {
                "agency": agency,
                "articles": articles.get(agency, 0),
                "by_category": dict(sorted(categories.get(agency, {}).items())),
                "published": published,
                "rejected": count("rejected"),
                "expired": count("expired"),
                "held": count("held"),
                "failed": count("failed") + count("needs_human"),
                "last_article_at": _iso(last_at.get(agency)),
            }
        )
    rows.sort(key=lambda r: (-r["articles"], r["agency"]))
    silent = sorted(r["agency"] for r in rows if r["articles"] == 0)
    missing = {
        r["agency"]: [k for k in spec.expected_of(r["agency"]) if not r["by_category"].get(k)]
        for r in rows
    }
    timeliness = data["timeliness"]
    report: dict[str, Any] = {
        "period": period.kind,
        "label": period.label,
        "from": period.first_day.isoformat(),
        "to": period.last_day.isoformat(),
        "from_utc": _iso(period.start),
        "to_utc": _iso(period.end),
        "totals": {
            "articles": sum(articles.values()),
            "published": sum(sum(r["published"].values()) for r in rows),
            "rejected": sum(r["rejected"] for r in rows),
            "expired": sum(r["expired"] for r in rows),
            "held": sum(r["held"] for r in rows),
        },
        "agencies": rows,
        "silent_agencies": silent,
        "missing_categories": {a: keys for a, keys in missing.items() if keys},
        "timeliness": {
            "overall": _stages(timeliness.get("*", {})),
            "by_agency": {a: _stages(m) for a, m in sorted(timeliness.items()) if a != "*"},
        },
        "failures": data["failures"],
        "incidents": [
            {**i, "started_at": _iso(i["started_at"]), "ended_at": _iso(i["ended_at"])}
            for i in data["incidents"]
        ],
        "audit_head": {"id": head[0], "hash": head[1]} if head else {"id": 0, "hash": None},
    }
    if period.kind == "quarter":
        report["ranking"] = ranking(rows, data["weeks_active"], spec, period.weeks)
    return report


def _stages(metrics: Mapping[str, Any]) -> dict[str, Any]:
    empty = {"count": 0, "median_s": None, "p90_s": None}
    return {m: metrics.get(m, empty) for m in queries.METRICS}


def ranking(
    rows: list[dict[str, Any]], weeks_active: Mapping[str, int], spec: ReportSpec, weeks: int
) -> dict[str, Any]:
    """Score = 50 × share of the quarter's weeks with a new article + 50 × share of the expected
    categories published at least once. Ties: more articles first, then the name."""
    scored: list[dict[str, Any]] = []
    for r in rows:
        expected = spec.expected_of(r["agency"])
        covered = sum(1 for k in expected if r["by_category"].get(k))
        regular = min(weeks_active.get(r["agency"], 0), weeks) / weeks if weeks else 0.0
        coverage = covered / len(expected) if expected else 1.0
        score = round(REGULARITY_POINTS * regular + COVERAGE_POINTS * coverage, 1)
        scored.append(
            {
                "agency": r["agency"],
                "score": score,
                "weeks_active": weeks_active.get(r["agency"], 0),
                "weeks": weeks,
                "categories_covered": covered,
                "categories_expected": len(expected),
                "articles": r["articles"],
            }
        )
    scored.sort(key=lambda s: (-s["score"], -s["articles"], s["agency"]))
    for i, s in enumerate(scored, 1):
        s["rank"] = i
    return {
        "method": (
            f"score = {REGULARITY_POINTS:g} × weeks with a new article / weeks in the period "
            f"+ {COVERAGE_POINTS:g} × expected categories published / expected categories; "
            "ties: more articles, then name"
        ),
        "agencies": scored,
        # With few agencies the two lists split them rather than overlap.
        "best": [s["agency"] for s in scored[: min(RANK_SHOWN, len(scored) - len(scored) // 2)]],
        "weakest": [s["agency"] for s in scored[::-1][: min(RANK_SHOWN, len(scored) // 2)]],
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None
