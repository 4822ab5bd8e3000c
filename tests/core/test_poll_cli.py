"""`syndicator poll --once` and `check-config` as a person runs them, in a subprocess."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from syndicator.sandbox.portal import PortalServer

HOSTILE = Path(__file__).parents[1] / "data" / "hostile"
ROOT = Path(__file__).parents[2]
OK_FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>S</title>'
    "<item><title>Tin \x1b[2J\u202emột</title><link>http://so.gov.vn/1</link><guid>1</guid>"
    "</item></channel></rss>"
)


# Runs the CLI and, as it exits, writes its own peak RSS (KiB, VmHWM of /proc/self/status) to
# the file in $PEAK_RSS_FILE. Not getrusage: RUSAGE_CHILDREN is the peak of every child any
# test ever ran, and Linux carries ru_maxrss across exec, so a child forked from a big pytest
# process starts with the parent's peak.
_MEASURED = (
    "import atexit, os, runpy, sys\n"
    "path = os.environ.get('PEAK_RSS_FILE')\n"
    "def peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            open(path, 'w').write(line.split()[1])\n"
    "if path:\n"
    "    atexit.register(peak)\n"
    "sys.argv = ['syndicator', *sys.argv[1:]]\n"
    "runpy.run_module('syndicator', run_name='__main__')\n"
)


async def run_cli(*args: str, cwd: Path, peak_file: Path | None = None) -> tuple[int, str, str]:
    import os

    env = {**os.environ, **({"PEAK_RSS_FILE": str(peak_file)} if peak_file else {})}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _MEASURED, *args,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_poll_once_fails_when_one_source_fails(portal: PortalServer, tmp_path: Path) -> None:
    """Drip, double-gzip bomb and HTML page beside a healthy feed: the table shows each, the
    exit code is 1, and the process never grew past 300 MB (the bomb unpacks to 1 GiB)."""
    portal.put("/ok.rss", OK_FEED)
    portal.put("/slow.rss", OK_FEED * 20)
    portal.add_fault("drip", scope="/slow.rss", every=0.3)
    portal.put(
        "/bomb.rss", (HOSTILE / "gzip_gzip_bomb.bin").read_bytes(), content_encoding="gzip, gzip"
    )
    portal.put("/page", "<html><head></head><body>x</body></html>", content_type="text/html")
    config = tmp_path / "etc" / "syndicator.toml"
    config.parent.mkdir()
    sources = "".join(
        f'[[sources]]\nid = "{sid}"\nurl = "{portal.url(path)}"\n\n'
        for sid, path in (
            ("ok", "/ok.rss"), ("slow", "/slow.rss"), ("bomb", "/bomb.rss"), ("page", "/page")
        )
    )  # fmt: skip
    config.write_text(
        '[database]\nurl = "sqlite:///var/s.db"\n\n[fetch]\ndeadline = "2s"\n\n' + sources,
        encoding="utf-8",
    )
    peak_file = tmp_path / "peak"
    code, out, err = await run_cli(
        "--config", str(config), "poll", "--once", cwd=tmp_path, peak_file=peak_file
    )
    peak_kib = int(peak_file.read_text())
    assert code == 1, (out, err)
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert set(rows) == {"ok", "slow", "bomb", "page"}
    assert rows["ok"].split()[1:4] == ["1", "0", "1"]  # fetched, not-modified, new
    assert "deadline" in rows["slow"]
    assert "compression layer" in rows["bomb"]
    assert "not a feed" in rows["page"]
    assert "3 of 4 source(s) failed: slow, bomb, page" in err
    assert peak_kib < 300 * 1024
    # The relative SQLite path lives beside the config, not in the working directory.
    assert (config.parent / "var" / "s.db").exists()
    assert not (tmp_path / "var").exists()

    code, out, err = await run_cli("--config", str(config), "articles", cwd=tmp_path)
    assert code == 0, err
    # The escape and the bidi override were removed at normalisation; their text stays.
    assert "\x1b" not in out and "\u202e" not in out
    assert "Tin [2Jmột" in out


def test_table_output_escapes_non_printables() -> None:
    """Whatever reaches a table (a title stored before this fix, a source error) is escaped."""
    import io

    from syndicator.cli.common import print_table

    out = io.StringIO()
    print_table(["title"], [["Tin \x1b[31mđỏ\u202e\u0301 một\n"]], out=out)
    assert out.getvalue().splitlines()[2] == "Tin \\x1b[31mđỏ\\u202e\u0301 một\\n"


async def test_check_config_prints_the_absolute_database_path(tmp_path: Path) -> None:
    """check-config shows where the database really is and checks it can be written."""
    config = tmp_path / "conf" / "syndicator.toml"
    config.parent.mkdir()
    config.write_text('[database]\nurl = "sqlite:///var/s.db"\n', encoding="utf-8")
    code, out, err = await run_cli("--config", str(config), "check-config", cwd=ROOT)
    assert code == 0, err
    assert f"database: {config.parent / 'var' / 's.db'} (SQLite, writable)" in out


async def test_unwritable_database_place_is_one_line_with_the_fix(tmp_path: Path) -> None:
    """A database path that cannot be created: one line naming it and the fix, no traceback
    (a file stands where the directory should be: root may write anywhere else)."""
    config = tmp_path / "syndicator.toml"
    (tmp_path / "var").write_text("not a directory", encoding="utf-8")
    config.write_text('[database]\nurl = "sqlite:///var/s.db"\n', encoding="utf-8")
    for command in (["check-config"], ["sources"]):
        code, _out, err = await run_cli("--config", str(config), *command, cwd=ROOT)
        assert code == 1
        assert err.startswith("database error: ") and len(err.strip().splitlines()) == 1, err
        assert str(tmp_path / "var") in err and "fix:" in err
        assert "config error" not in err
