"""The report's charts as PNG bytes: articles per agency stacked by category, and timeliness.

matplotlib with the Agg backend (no display on a server). Labels are Vietnamese; the DejaVu
Sans font that matplotlib bundles covers Vietnamese letters with their diacritics, so no
system font is needed.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from syndicator.approval.texts import CATEGORY_NAMES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FONT = "DejaVu Sans"
STAGE_NAMES = {
    "portal_to_detected": "Cổng đăng → phát hiện",
    "detected_to_preview": "Phát hiện → gửi duyệt",
    "preview_to_decision": "Gửi duyệt → quyết định",
    "decision_to_live": "Quyết định → lên mạng",
}
MAX_AGENCIES = 25  # one chart stays readable; the table has the rest


def _pyplot() -> Any:
    """matplotlib, imported on the first chart: the daemon imports this module through the
    bot and the CLI, and matplotlib (with numpy and PIL) was ~45 MB of its resident memory
    before any report was asked for (issue 11, peak RSS; docs/benchmarks.md)."""
    import matplotlib

    matplotlib.use("Agg")  # headless: must precede pyplot
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Figure) -> bytes:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def articles_chart(report: dict[str, Any]) -> bytes:
    """Horizontal bars, one per agency, stacked by category."""
    rows = [r for r in report["agencies"] if r["articles"]][:MAX_AGENCIES]
    categories = sorted({k for r in rows for k in r["by_category"]})
    plt = _pyplot()
    with plt.rc_context({"font.family": FONT}):
        fig, ax = plt.subplots(figsize=(9, 1.2 + 0.4 * max(len(rows), 1)))
        left = [0] * len(rows)
        names = [r["agency"] for r in rows][::-1]
        for i, key in enumerate(categories):
            values = [r["by_category"].get(key, 0) for r in rows][::-1]
            ax.barh(names, values, left=left[::-1], label=CATEGORY_NAMES.get(key, key),
                    color=plt.get_cmap("tab20")(i % 20))  # fmt: skip
            left = [a + b for a, b in zip(left, values[::-1], strict=True)]
        if not rows:
            ax.text(0.5, 0.5, "Không có bài mới trong kỳ", ha="center", transform=ax.transAxes)
        ax.set_title(f"Bài mới theo cơ quan và lĩnh vực — {report['label']}")
        ax.set_xlabel("Số bài")
        if categories:
            ax.legend(fontsize=7, loc="lower right")
        return _png(fig)


def timeliness_chart(report: dict[str, Any]) -> bytes:
    """Median and 90th percentile of each stage, in minutes (overall)."""
    overall = report["timeliness"]["overall"]
    stages = list(STAGE_NAMES)
    median = [(overall[s]["median_s"] or 0) / 60 for s in stages]
    p90 = [(overall[s]["p90_s"] or 0) / 60 for s in stages]
    plt = _pyplot()
    with plt.rc_context({"font.family": FONT}):
        fig, ax = plt.subplots(figsize=(9, 3.5))
        y = range(len(stages))
        ax.barh([i + 0.2 for i in y], median, height=0.4, label="Trung vị", color="#1f77b4")
        ax.barh([i - 0.2 for i in y], p90, height=0.4, label="Phân vị 90", color="#ff7f0e")
        ax.set_yticks(list(y), [STAGE_NAMES[s] for s in stages])
        ax.invert_yaxis()
        ax.set_xlabel("Phút")
        ax.set_title(f"Thời gian xử lý — {report['label']}")
        ax.legend(fontsize=8)
        return _png(fig)
