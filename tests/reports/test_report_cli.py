"""`syndicator report` and `register export` through the CLI, on the seeded SQLite database."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from syndicator.reports import charts
from syndicator.reports.build import build_report
from syndicator.reports.period import last_period
from syndicator.reports.register import register_rows, split_decider
from syndicator.storage import Storage, open_storage
from tests.reports.conftest import APPROVER, KEY, NOW, SPEC, TC, seed

WEEK = ("--from", "2025-11-03", "--to", "2025-11-09")


@pytest.fixture
def cli(tmp_path: Path):
    """A config with the seeded SQLite database and its sources; returns a runner."""
    db = tmp_path / "r.db"
    store = open_storage(f"sqlite:///{db}", audit_key=KEY)
    seed(store)
    store.close()
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n'
        '[[sources]]\nid = "so-tc"\nagency = "Sở Tài chính"\nurl = "https://stc.example/rss"\n'
        '[[sources]]\nid = "so-xd"\nagency = "Sở Xây dựng"\nurl = "https://sxd.example/rss"\n'
        '[reports.expected_by_source]\n"so-xd" = ["hoi_dap", "quy_hoach_ke_hoach"]\n',
        encoding="utf-8",
    )
    env = {**os.environ, "SYNDICATOR_AUDIT_KEY": KEY.decode()}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", str(cfg), *args],
            capture_output=True, text=True, check=False, env=env, encoding="utf-8",
        )  # fmt: skip

    return run


def test_report_json_contract(cli) -> None:
    """The json format carries the fields issue 12 names, with the seeded figures."""
    out = cli("report", *WEEK, "--format", "json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    for key in ("from", "to", "agencies", "silent_agencies", "missing_categories",
                "timeliness", "failures", "audit_head"):  # fmt: skip
        assert key in report
    tc = next(a for a in report["agencies"] if a["agency"] == TC)
    assert set(tc) >= {"agency", "articles", "by_category", "published", "rejected", "expired",
                       "held", "last_article_at"}  # fmt: skip
    assert tc["articles"] == 4 and tc["published"] == {"facebook": 2, "zalo": 1}
    assert report["missing_categories"]["Sở Xây dựng"] == ["hoi_dap"]  # per-source override
    assert report["audit_head"]["id"] == 7


def test_report_md_csv_html(cli, tmp_path: Path) -> None:
    """md and csv end with the audit head; html embeds both charts as PNG."""
    md = cli("report", *WEEK, "--format", "md").stdout
    assert "| Sở Tài chính | 4 |" in md and "Audit head: `7:" in md
    rows = list(csv.reader(io.StringIO(cli("report", *WEEK, "--format", "csv").stdout)))
    assert rows[0][:2] == ["agency", "articles"] and rows[-1][0] == "audit_head"
    out = tmp_path / "r.html"
    done = cli("report", *WEEK, "--format", "html", "--out", str(out))
    assert done.returncode == 0 and "audit head 7:" in done.stdout
    page = out.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2 and "Sở Tài chính" in page


def test_report_bad_input(cli) -> None:
    """Contradictory or malformed periods exit 1 with a message, touching nothing."""
    both = cli("report", "--period", "week", "--from", "2025-11-03", "--to", "2025-11-09")
    assert both.returncode == 1 and "either --period or --from/--to" in both.stderr
    half = cli("report", "--from", "2025-11-03")
    assert half.returncode == 1 and "--from and --to go together" in half.stderr
    bad = cli("report", "--from", "2025-13-03", "--to", "2025-11-09")
    assert bad.returncode == 1 and "2025-11-14" in bad.stderr
    reversed_ = cli("report", "--from", "2025-11-09", "--to", "2025-11-03")
    assert reversed_.returncode == 1 and "before" in reversed_.stderr
    nowhere = cli("report", *WEEK, "--out", "/nonexistent/dir/r.md")
    assert nowhere.returncode == 1 and "--out" in nowhere.stderr


def test_register_csv_matches_posts(cli, seeded: Storage) -> None:
    """One row per published/failed/rejected post, BOM first, approver split, head last."""
    raw = cli("register", "export", "--format", "csv").stdout
    assert raw.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(raw.removeprefix("\ufeff"))))
    head_row = rows.pop()
    assert head_row["post_id"] == "audit_head" and head_row["status"].startswith("7:")
    # a1 fb+zalo published, a2 both rejected, a4 fb published + zalo failed, b1 fb published.
    assert sorted((r["status"], r["channel"]) for r in rows) == sorted(
        [("published", "facebook"), ("published", "zalo"), ("rejected", "facebook"),
         ("rejected", "zalo"), ("published", "facebook"), ("failed", "zalo"),
         ("published", "facebook")]
    )  # fmt: skip
    posts = {p.id: p for p in seeded.list_posts()}
    for r in rows:
        post = posts[int(r["post_id"])]
        assert (r["status"], r["channel"], r["payload_hash"]) == (
            post.status.value, post.channel, post.payload_hash,
        )  # fmt: skip
        assert r["approver_id"] == "telegram:111" and r["approver_name"] == "Nguyễn Văn A"
        assert (r["platform_id"] or None) == post.external_id
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["last_error"] == "(#100) Invalid parameter" and failed["attempts"] == "1"


def test_register_vietnamese_headers_jsonl_and_dates(cli) -> None:
    """--headers vi names the columns in Vietnamese; jsonl ends with the head; --from/--to filter."""
    vi = cli("register", "export", "--headers", "vi").stdout
    assert vi.removeprefix("\ufeff").startswith("Mã bài đăng,Trạng thái,Cơ quan")
    lines = cli("register", "export", "--format", "jsonl", "--from", "2025-11-07",
                "--to", "2025-11-09").stdout.splitlines()  # fmt: skip
    assert json.loads(lines[-1])["audit_head"]["id"] == 7
    assert [json.loads(x)["agency"] for x in lines[:-1]] == ["Sở Xây dựng"]  # b1's facebook post
    bad = cli("register", "export", "--from", "2025-11-07")
    assert bad.returncode == 1 and "--from and --to go together" in bad.stderr


def test_register_content_hash_at_approval(seeded: Storage) -> None:
    """An article changed after approval reports the hash it had when it was approved."""
    from datetime import timedelta

    from sqlalchemy import text

    rows = {r["post_id"]: r for r in register_rows(seeded, None, None)}
    a1 = next(r for r in rows.values() if r["portal_url"].endswith("/a1"))
    assert a1["article_content_hash"] == "hash-a1"
    with seeded.engine.begin() as conn:
        conn.execute(text("UPDATE articles SET content_hash = 'hash-a1-v2' WHERE guid = 'a1'"))
    seeded.record_event(
        "article.changed", actor="poller", subject="article:1",
        data={"old_hash": "hash-a1", "new_hash": "hash-a1-v2"}, now=NOW + timedelta(days=1),
    )  # fmt: skip
    again = next(r for r in register_rows(seeded, None, None) if r["post_id"] == a1["post_id"])
    assert again["article_content_hash"] == "hash-a1"


def test_split_decider() -> None:
    """decided_by is split into an id and a display name."""
    assert split_decider(APPROVER) == ("telegram:111", "Nguyễn Văn A")
    assert split_decider("cli:root") == ("cli:root", "")
    assert split_decider(None) == ("", "")


def test_charts_are_png(seeded: Storage, tmp_path: Path) -> None:
    """Both charts render to non-empty PNG files (kept under tmp_path for a look)."""
    report = build_report(seeded, last_period("week", NOW), SPEC)
    for name, png in (("articles", charts.articles_chart(report)),
                      ("timeliness", charts.timeliness_chart(report))):  # fmt: skip
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
        (tmp_path / f"{name}.png").write_bytes(png)
