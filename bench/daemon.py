"""Benchmark the product: `syndicator run` over a loopback feed farm, beside a naive loop.

Not a test: it prints numbers (docs/benchmarks.md, "The daemon, measured as it runs").

1. A config of N feeds (default 2,000 of 20 items, interval 30 s, `[fetch] concurrency =
   per_host = 50`, one Facebook Page on the Graph stand-in, manual approval, `/healthz` on) is
   written; `bench/feedfarm.py` serves the feeds and the Graph stand-in from another process.
2. `syndicator run` starts as a subprocess. The first poll: from its `daemon_started` line
   until every entry is stored *and planned* (no article left for `Publisher.plan`).
3. Steady state: every `--bump-every` s, 5 % of the feeds gain an item (dated now, so each
   becomes a post waiting for approval); after `--warmup` s of that, over `--window` s: the daemon's CPU (utime + stime,
   `/proc/<pid>/stat`), its feed checks (the `sources` of its `poll_cycle` log lines).
4. Approval -> live, two paths: `syndicator approve N` (another process; the daemon's
   decision watch wakes its publisher) on a few waiting posts, one after another; then the
   staff path: the approve button pressed on previews in the Telegram stand-in (served from a
   thread of this process; the bench's config runs the approval bot on it, `--no-telegram`
   leaves it out). decided_at -> published_at read from the database, and for a tap also
   tap -> published_at.
5. Restart: the daemon is stopped, 5 % of the feeds change, every source is made due (as
   after a downtime longer than the interval) and a new daemon starts: its first poll, from
   `daemon_started` until every source was checked, in checks per CPU-second. `--restarts`
   times (3), one after another; the figure is their median, each is printed.
6. The naive loop (`feedparser.parse(url)` one feed after another) over the same farm, in its
   own process: CPU per check. Twice: after the restart (alone on the machine), and beside
   the steady window (same minute, same machine state; the ratio's second figure).
All the while `/healthz` is asked every second (`--ping-every`; p50/p99 latency). Peak RSS is VmHWM.

    python bench/daemon.py            # the issue's workload (about 5 minutes on 2 cores)
    python bench/daemon.py --quick    # 300 feeds, a 30 s window (about 1.5 minutes)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import create_engine, func, select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syndicator.storage.models import PostRow, SourceRow  # noqa: E402

BOT_TOKEN = "123456:BENCH-TOKEN"
STAFF_CHAT = -1001000000001
PAUSE_BETWEEN = timedelta(seconds=1)  # the config's default [publishing] pause_between
APPROVER = 7001

HERE = ROOT / "bench"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start on port {port}")


def cpu_seconds(pid: int) -> float:
    """CPU of the daemon with its worker processes (the parse workers,
    `[poll] parse_processes`): utime + stime of each live one, plus cutime + cstime (what
    their children that ended had spent), in seconds (/proc/<pid>/stat fields 14-17)."""
    total = 0.0
    for one in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError, ValueError):  # ended meanwhile: in its parent's cutime
            total += cpu_seconds_at(Path(f"/proc/{one}/stat"), children=True)
    return total


def descendants(pid: int) -> list[int]:
    """Every live process under `pid` (the parse workers, and whatever they start)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent = int(proc_stat(stat)[1][1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def thread_cpu(pid: int) -> dict[int, tuple[str, float, float]]:
    """(name, utime, stime) in seconds per thread of a process (/proc/<pid>/task/<tid>/stat):
    which thread spends the CPU, and how much of it is the kernel's (sockets, files)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):  # the thread ended meanwhile
            name, fields = proc_stat(task / "stat")
            out[int(task.name)] = (name, int(fields[11]) / TICK, int(fields[12]) / TICK)
    return out


def print_thread_cpu(before: dict[int, tuple[str, float, float]], pid: int) -> None:
    """The window's CPU per thread of the daemon, user and system."""
    for tid, (name, user, system) in sorted(thread_cpu(pid).items()):
        _, user0, system0 = before.get(tid, (name, 0.0, 0.0))
        if user + system - user0 - system0 >= 0.01:
            print(f"  thread {tid} ({name}): {user - user0:.2f} user + "
                  f"{system - system0:.2f} system CPU-s", flush=True)  # fmt: skip


def phase_cpu(
    before: dict[int, tuple[str, float, float]], pid: int, spy: subprocess.Popen[bytes] | None
) -> None:
    """The end of a measured phase: its CPU per thread and in the worker processes, and the
    profile of it, if one was being recorded, written."""
    print_thread_cpu(before, pid)
    print_worker_cpu(pid)
    if spy is not None:
        spy.wait()


def print_worker_cpu(pid: int) -> None:
    """The daemon's worker processes (the parse worker, multiprocessing's resource tracker)
    and the CPU they spent since they started: a first poll's other core."""
    own = cpu_seconds_at(Path(f"/proc/{pid}/stat"), children=True)
    workers = descendants(pid)
    print(f"  worker processes: {len(workers)} ({cpu_seconds(pid) - own:.2f} CPU-s since they "
          "started)", flush=True)  # fmt: skip


def proc_stat(path: Path) -> tuple[str, list[str]]:
    """A /proc stat file: the command name, and the fields after it (state first: field 3 of
    proc(5) is [0]). The name may hold spaces and parentheses, so it ends at the last ")"."""
    stat = path.read_text()
    return stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()


def cpu_seconds_at(path: Path, *, children: bool = False) -> float:
    fields = proc_stat(path)[1]
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def peak_rss_mb(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1]) / 1024
    return 0.0


def tree_peak_rss_mb(pid: int) -> float:
    """The daemon's peak RSS plus each worker process's own (a sum of peaks: an upper bound
    of what they held at once)."""
    total = peak_rss_mb(pid)
    for one in descendants(pid):
        with contextlib.suppress(OSError):
            peak = peak_rss_mb(one)
            command = Path(f"/proc/{one}/cmdline").read_bytes().replace(b"\0", b" ")[:60]
            print(f"  worker process {one}: peak RSS {peak:.0f} MB ({command.decode()})")
            total += peak
    return total


def keep_changing(
    base: str, args: argparse.Namespace, daemon: Daemon, seconds: float, offset: int
) -> tuple[int, int]:
    """For `seconds`: a bump every `--bump-every` s from now on, the daemon's log read as it
    goes. Returns the next bump's offset and how many feeds changed."""
    start, bumps, changed = time.perf_counter(), 0, 0
    while (now := time.perf_counter()) < start + seconds:
        if now >= start + bumps * args.bump_every:
            changed += bump(base, args.changed, offset + bumps)
            bumps += 1
        daemon.read_log()
        time.sleep(0.2)
    daemon.read_log()
    return offset + bumps, changed


def bump(base: str, fraction: float, offset: int) -> int:
    req = urllib.request.Request(f"{base}/bump?fraction={fraction}&offset={offset}", method="POST")
    with urllib.request.urlopen(req) as resp:
        return int(json.loads(resp.read())["changed"])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Daemon:
    """A `syndicator run` subprocess and what its log lines said so far."""

    config: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float | None = None  # bench clock when `daemon_started` was read
    started_cpu: float = 0.0
    checks: int = 0  # sum of poll_cycle `sources`
    new: int = 0
    errors: int = 0
    _offset: int = 0
    _partial: bytes = b""
    cycles: list[tuple[float, int]] = field(default_factory=list)
    sql_stats: str | None = None  # --sql-stats PATH

    def start(self) -> None:
        log = self.log_path.open("ab")
        env = dict(os.environ)
        if self.sql_stats:  # bench/sqlstats/sitecustomize.py, imported at start-up
            paths = [str(ROOT / "bench" / "sqlstats"), env.get("PYTHONPATH", "")]
            env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
            env["SYNDICATOR_SQL_STATS"] = self.sql_stats
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "--config", str(self.config), "run"],
            stdout=log,
            stderr=log,
            cwd=ROOT,
            env=env,
        )
        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def read_log(self) -> None:
        """Take the new JSON lines of the log; count checks, remember the start."""
        with self.log_path.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            event = line.get("event")
            if event == "daemon_started" and self.started_at is None:
                self.started_at = time.perf_counter()
                self.started_cpu = cpu_seconds(self.pid)
            elif event == "poll_cycle":
                self.checks += int(line.get("sources", 0))
                self.new += int(line.get("new", 0))
                self.errors += int(line.get("errors", 0))
                self.cycles.append((time.perf_counter(), self.checks))
            elif line.get("level") in ("error", "critical"):
                print(f"  daemon error: {raw[:300].decode(errors='replace')}", flush=True)

    def wait_for(self, predicate: Any, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.read_log()
            if predicate():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited ({self.proc.returncode}) waiting for {what}")
            time.sleep(0.1)
        raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class HealthPinger(threading.Thread):
    """GET /healthz every `every` s (0.2); latencies (s) per phase label."""

    def __init__(self, url: str, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.url, self.every = url, every
        self.phase = "startup"
        self.latencies: dict[str, list[float]] = {}
        self.failures: dict[str, int] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            phase = self.phase
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as resp:
                    resp.read()
            except urllib.error.HTTPError:
                pass  # 503 (e.g. no poll yet) is still an answer: its latency counts
            except OSError:
                self.failures[phase] = self.failures.get(phase, 0) + 1
                continue
            self.latencies.setdefault(phase, []).append(time.perf_counter() - t0)


def write_config(
    path: Path, args: argparse.Namespace, farm: str, graph: str, health: int, telegram: str | None
) -> None:
    config = {
        "database": {"url": args.database_url},
        "logging": {"level": "info", "format": "json"},
        "fetch": {"concurrency": args.concurrency, "per_host": args.concurrency},
        # Unset: the daemon's default (one parse worker on a machine with two cores).
        **(
            {"poll": {"parse_processes": args.parse_processes}}
            if args.parse_processes is not None
            else {}
        ),
        "server": {"listen": f"127.0.0.1:{health}"},
        "sources": [
            {
                "id": f"s{i}",
                "url": f"{farm}/feed/{i}.xml",
                "agency": f"Sở {i}",
                "interval": f"{args.interval}s",
            }
            for i in range(args.feeds)
        ],
        "channels": {
            "facebook": {
                "kind": "facebook_page",
                "page_id": "1000000001",
                "access_token": "PAGE_TOKEN",
                "api_base": graph,
                "api_version": "v23.0",
            }
        },
        "approval": {"mode": "manual"},
    }
    if telegram is not None:  # the staff's workspace, on the stand-in
        config["approval"] = {
            "mode": "telegram", "bot_token": BOT_TOKEN, "chat_id": STAFF_CHAT,
            "approvers": [APPROVER], "api_base": f"{telegram}/bot",
        }  # fmt: skip
    path.write_text(tomli_w.dumps(config), encoding="utf-8")


class TelegramStandIn(threading.Thread):
    """The project's Telegram Bot API stand-in on its own event loop in a thread of the bench;
    the bench plays the approver through its control API over HTTP (`/_sandbox/...`)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.url: str | None = None
        self.ready = threading.Event()
        self._loop: Any = None
        self._stopping: Any = None

    def run(self) -> None:
        import asyncio

        from syndicator.sandbox.telegram import TelegramServer

        async def serve() -> None:
            server = TelegramServer((BOT_TOKEN,))
            self.url = await server.start()
            server.add_chat(STAFF_CHAT, type="supergroup", title="Ban biên tập")
            self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
            self.ready.set()
            await self._stopping.wait()
            await server.stop()

        asyncio.run(serve())

    def close(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self.join(10)

    def control(self, action: str, **kwargs: Any) -> Any:
        request = urllib.request.Request(
            f"{self.url}/_sandbox/{action}", data=json.dumps(kwargs).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def staff_messages(self) -> list[dict[str, Any]]:
        assert self.url is not None
        with urllib.request.urlopen(f"{self.url}/_sandbox/state", timeout=10) as resp:
            state = json.loads(resp.read())
        return list(state["bots"][BOT_TOKEN]["chats"].get(str(STAFF_CHAT), []))


def approve_button(message: dict[str, Any]) -> str | None:
    """The callback data of a preview's approve-everything button (as syndicator demo taps)."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            label, data = button.get("text", ""), button.get("callback_data")
            if data and "Duyệt" in label and not label.startswith(("Bỏ", "Không")):
                return str(data)
    return None


def naive_loop(base: str, count: int, seconds: float = 0.0) -> subprocess.Popen[str]:
    """The naive loop in its own process: `feedparser.parse(url)` over the farm's first `count`
    feeds one after another, until each was checked once and `seconds` have passed. Run after
    the daemon (alone on the machine), and beside its steady window (same minute, same machine
    state: on a shared VM the machine's own speed moved by 25-50 % between minutes,
    docs/benchmarks.md). `naive_result` reads it."""
    code = (
        "import feedparser,time\n"
        f"urls=['{base}/feed/%d.xml'%i for i in range({count})]\n"
        "c0,t0=time.process_time(),time.perf_counter()\n"
        f"n=0\nwhile n<len(urls) or time.perf_counter()-t0<{seconds}:\n"
        "    feedparser.parse(urls[n%len(urls)]); n+=1\n"
        "print(time.perf_counter()-t0,time.process_time()-c0,n)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def naive_result(proc: subprocess.Popen[str]) -> tuple[float, float]:
    """(checks per CPU-second, checks per second) of a `naive_loop`."""
    out, _ = proc.communicate(timeout=600)
    if proc.returncode:
        raise RuntimeError(f"the naive loop failed (exit {proc.returncode})")
    wall, cpu, n = (float(x) for x in out.split())
    return n / cpu, n / wall


def scalar(engine: Any, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="300 feeds, a 30 s window")
    ap.add_argument("--feeds", type=int)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--interval", type=int, default=30, help="seconds between checks of a feed")
    ap.add_argument("--window", type=float, help="seconds of steady state measured (60)")
    ap.add_argument("--bump-every", type=float, default=15.0)
    ap.add_argument(
        "--warmup", type=float, default=15.0,
        help="seconds of changes before the steady window, not measured (15)",
    )  # fmt: skip
    ap.add_argument("--changed", type=float, default=0.05, help="fraction of feeds per bump")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--naive", type=int, help="feeds for the naive loop (200)")
    ap.add_argument("--approvals", type=int, help="posts approved one by one (5)")
    ap.add_argument(
        "--restarts", type=int, default=3,
        help="restarts measured, one after another; the figure is their median (3)",
    )  # fmt: skip
    ap.add_argument(
        # A monitor asks every 10-30 s (Kubernetes' probe default periodSeconds 10, Docker's
        # HEALTHCHECK --interval 30 s); the bench asks far more often, to sample the latency
        # under load, and each request is CPU the window counts: five a second were 6-8 % of
        # it (docs/benchmarks.md, 2026-12-03). One a second: ~140 answers a run, the p99 of
        # each phase then near its maximum, a stricter figure.
        "--ping-every", type=float, default=1.0,
        help="seconds between /healthz requests (1.0; each costs the daemon CPU it counts)",
    )  # fmt: skip
    ap.add_argument(
        "--parse-processes", type=int, help="[poll] parse_processes (default: the daemon's)"
    )
    ap.add_argument("--gil", action="store_true", help="--profile: only the thread holding the GIL")
    ap.add_argument(
        "--sql-stats",
        metavar="PATH",
        help="time each SQL statement the daemon runs in the steady window (PATH.2)",
    )
    ap.add_argument(
        "--native", action="store_true", help="--profile: C frames too (SQLite, sockets)"
    )
    ap.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    ap.add_argument("--no-telegram", action="store_true", help="no approval bot (manual mode)")

    ap.add_argument(
        "--profile",
        metavar="PATH",
        help="record the daemon with py-spy over the steady window (speedscope JSON to PATH; "
        "the first poll's first 15 s to PATH.first, each restart to PATH.restartN; "
        "py-spy installed in the venv, not a project dependency)",
    )
    args = ap.parse_args()
    quick = args.quick
    args.feeds = args.feeds or (300 if quick else 2000)
    args.window = args.window or (30.0 if quick else 60.0)
    args.naive = min(args.naive or (60 if quick else 200), args.feeds)  # a feed the farm has
    args.approvals = args.approvals or (3 if quick else 5)
    if args.restarts < 1:
        ap.error("--restarts: at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        args.database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
        farm_port, graph_port, health_port = free_port(), free_port(), free_port()
        farm = subprocess.Popen(
            [sys.executable, str(HERE / "feedfarm.py"), str(farm_port), str(args.feeds),
             str(args.items), str(graph_port)]
        )  # fmt: skip
        daemons: list[Daemon] = []
        pinger = HealthPinger(f"http://127.0.0.1:{health_port}/healthz", args.ping_every)
        telegram = None if args.no_telegram else TelegramStandIn()
        try:
            wait_port(farm_port, "feed farm")
            wait_port(graph_port, "Graph stand-in")
            if telegram is not None:
                telegram.start()
                if not telegram.ready.wait(30):
                    raise RuntimeError("the Telegram stand-in did not start")
            base = f"http://127.0.0.1:{farm_port}"
            config = Path(tmp) / "bench.toml"
            write_config(config, args, base, f"http://127.0.0.1:{graph_port}", health_port,
                         telegram.url if telegram is not None else None)  # fmt: skip
            return run(args, tmp, config, base, daemons, pinger, telegram)
        finally:
            pinger.stopping.set()
            for d in daemons:
                d.stop()
            farm.terminate()  # first: a failing close below must not leave the farm running
            farm.wait()
            if telegram is not None:
                telegram.close()


def run(
    args: argparse.Namespace,
    tmp: str,
    config: Path,
    base: str,
    daemons: list[Daemon],
    pinger: HealthPinger,
    telegram: TelegramStandIn | None = None,
) -> int:
    feeds, entries = args.feeds, args.feeds * args.items
    print(
        f"-- syndicator run: {feeds} feeds x {args.items} items, interval {args.interval} s, "
        f"{args.concurrency} in flight, {args.database_url.split(':')[0]}",
        flush=True,
    )
    log_path = Path(tmp) / "daemon.log"
    first = Daemon(config, log_path, sql_stats=args.sql_stats)
    daemons.append(first)
    first.start()
    pinger.start()
    engine = create_engine(args.database_url)
    # 1. The first poll: every entry stored and planned.
    # Until the daemon logs daemon_started its listener is not up: refused pings count under
    # "startup", not against the first poll.
    first.wait_for(lambda: first.started_at is not None, 120, "daemon_started")
    pinger.phase = "first poll"
    first_threads0 = thread_cpu(first.pid)
    spy = profile(args, first.pid, 15, ".first")  # its first 15 s (PATH.first)

    def planned() -> bool:
        if first.checks < feeds:
            return False
        stored = scalar(engine, "SELECT count(*) FROM articles")
        waiting = scalar(
            engine,
            "SELECT count(*) FROM articles WHERE duplicate_of IS NULL "
            "AND planned_version < version",
        )
        return bool(stored >= entries and waiting == 0)

    first.wait_for(planned, 1800, "the first poll to be stored and planned")
    assert first.started_at is not None
    first_wall = time.perf_counter() - first.started_at
    first_cpu = cpu_seconds(first.pid) - first.started_cpu
    print(
        f"first poll: {entries} entries stored and planned in {first_wall:.1f} s "
        f"({entries / first_wall:.0f} entries/s), daemon CPU {first_cpu:.1f} s",
        flush=True,
    )
    phase_cpu(first_threads0, first.pid, spy)
    # 2. Steady state.
    pinger.phase = "steady"
    time.sleep(2.0)
    # Warm-up, not measured: the changes begin, so what a daemon does once when its first
    # change comes (import the parser its worker held for the first poll: ~2 % of a window)
    # falls before the window, which then sees the steady state only.
    offset, _ = keep_changing(base, args, first, args.warmup, 0)
    checks0, cpu0, t0 = first.checks, cpu_seconds(first.pid), time.perf_counter()
    spy = profile(args, first.pid)
    beside = naive_loop(base, args.naive, args.window)
    if args.sql_stats:  # PATH.1: everything before the window (start-up, first poll)
        os.kill(first.pid, signal.SIGUSR1)
    threads0 = thread_cpu(first.pid)
    offset, bumped = keep_changing(base, args, first, args.window, offset)
    window = time.perf_counter() - t0
    checks, cpu = first.checks - checks0, cpu_seconds(first.pid) - cpu0
    naive_during, _ = naive_result(beside)
    if args.sql_stats:  # PATH.2: the steady window
        os.kill(first.pid, signal.SIGUSR1)
        print(f"  SQL statements of the steady window: {args.sql_stats}.2", flush=True)
    if spy is not None:
        spy.wait()
    print_thread_cpu(threads0, first.pid)  # py-spy names the same thread ids
    steady = checks / cpu if cpu else float("inf")
    print(
        f"steady state: {checks} feed checks in {window:.0f} s ({bumped} feeds changed), "
        f"daemon CPU {cpu:.2f} s: {steady:.0f} checks per CPU-second "
        f"({100 * cpu / window:.0f} % of a core)",
        flush=True,
    )
    # 3. Approval -> live on Facebook.
    pinger.phase = "approvals"
    # With --changed 0 no post ever waits for approval: nothing to approve, no figure.
    changes = args.changed > 0
    latencies = approvals(args, config, engine, first) if changes else []
    taps = staff_approvals(args, engine, first, telegram) if telegram and changes else []
    rss_first = (peak_rss_mb(first.pid), tree_peak_rss_mb(first.pid))
    # 4. Restart: stop, change 5 %, make every source due, start again; `--restarts` times.
    # One restart's first poll is a ~3 s sample, against a 60 s steady window: identical
    # work costs up to twice the CPU from one second to the next on this machine
    # (docs/benchmarks.md, 2026-12-03 08:15), so the figure is the median of several.
    previous, restarts, rss = first, [], rss_first
    for n in range(args.restarts):
        previous.stop()
        daemon, rate = restart(args, config, log_path, base, engine, offset + 1 + n, pinger,
                               daemons)  # fmt: skip
        restarts.append(rate)
        rss = (max(rss[0], peak_rss_mb(daemon.pid)), max(rss[1], tree_peak_rss_mb(daemon.pid)))
        previous = daemon
    previous.stop()
    pinger.stopping.set()
    # 5. The naive loop over the same farm.
    naive_cpu, naive_wall = naive_result(naive_loop(base, args.naive))
    print(
        f"naive feedparser.parse(url) loop: {args.naive} feeds, {naive_cpu:.0f} checks per "
        f"CPU-second ({naive_wall:.0f} feeds/s)",
        flush=True,
    )
    print(
        f"naive loop beside the steady window: {naive_during:.0f} checks per CPU-second",
        flush=True,
    )
    report(args, entries / first_wall, steady, restarts, rss, latencies,
           (naive_cpu, naive_during), pinger, taps)  # fmt: skip
    engine.dispose()
    errors = sum(d.errors for d in daemons)
    if errors:
        print(f"note: the daemons' poll cycles reported {errors} source errors", flush=True)
    return 0


def restart(
    args: argparse.Namespace,
    config: Path,
    log_path: Path,
    base: str,
    engine: Any,
    offset: int,
    pinger: HealthPinger,
    daemons: list[Daemon],
) -> tuple[Daemon, float]:
    """One restart, the previous daemon stopped: 5 % of the feeds change, every source is
    made due, a new daemon starts (added to `daemons` first, so it is stopped whatever
    happens); its first poll in checks per CPU-second."""
    pinger.phase = "startup"  # stopped, then the new daemon starting: nothing listens
    bump(base, args.changed, offset)
    with engine.begin() as conn:
        conn.execute(update(SourceRow).values(next_check_at=datetime.now(UTC)))
    daemon = Daemon(config, log_path)
    daemons.append(daemon)
    daemon.start()
    daemon.wait_for(lambda: daemon.started_at is not None, 120, "daemon_started (restart)")
    pinger.phase = "restart"
    threads0 = thread_cpu(daemon.pid)
    spy = profile(args, daemon.pid, 10, f".restart{offset}")
    daemon.wait_for(lambda: daemon.checks >= args.feeds, 600, "the restarted daemon's first poll")
    assert daemon.started_at is not None
    wall = time.perf_counter() - daemon.started_at
    cpu = cpu_seconds(daemon.pid) - daemon.started_cpu
    rate = daemon.checks / cpu if cpu else float("inf")
    print(
        f"restarted daemon, first poll: {daemon.checks} checks in {wall:.1f} s "
        f"({daemon.checks / wall:.0f} feeds/s), daemon CPU {cpu:.2f} s: "
        f"{rate:.0f} checks per CPU-second",
        flush=True,
    )
    # Which thread; and whether a parse worker started (a process spawned in the window
    # would cost ~0.5 CPU-s of imports).
    phase_cpu(threads0, daemon.pid, spy)
    return daemon, rate


def profile(
    args: argparse.Namespace, pid: int, seconds: float | None = None, suffix: str = ""
) -> subprocess.Popen[bytes] | None:
    """py-spy on the daemon for the steady window (or `seconds`). Its samples cost py-spy's
    CPU, not the daemon's (--nonblocking: the daemon is never paused), so the figures stay
    comparable."""
    if not args.profile:
        return None
    spy = str(Path(sys.executable).with_name("py-spy"))
    seconds = args.window if seconds is None else seconds
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200",
         "--nonblocking", "--threads", *(["--gil"] if args.gil else []),
         *(["--native"] if args.native else []),
         "--format", "speedscope", "-o", args.profile + suffix],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def approvals(args: argparse.Namespace, config: Path, engine: Any, daemon: Daemon) -> list[float]:
    """Approve waiting Facebook posts one by one with the CLI; decided_at -> published_at (s)."""
    out: list[float] = []
    for _ in range(args.approvals):
        daemon.wait_for(
            lambda: bool(scalar(engine, "SELECT count(*) FROM posts WHERE status = 'pending'")),
            120,
            "a post waiting for approval",
        )
        post_id = scalar(engine, "SELECT min(id) FROM posts WHERE status = 'pending'")
        subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", str(config), "approve", str(post_id)],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        live = f"SELECT published_at FROM posts WHERE id = {int(post_id)}"
        daemon.wait_for(
            lambda live=live: scalar(engine, live) is not None,
            60,
            f"post {post_id} to go live",
        )
        with engine.connect() as conn:
            decided, published = conn.execute(
                select(PostRow.decided_at, PostRow.published_at).where(PostRow.id == post_id)
            ).one()
        out.append((published - decided).total_seconds())
    print(
        "approval -> live on Facebook: "
        + ", ".join(f"{x:.2f}" for x in out)
        + f" s (p50 {statistics.median(out):.2f} s)",
        flush=True,
    )
    return out


def staff_approvals(
    args: argparse.Namespace, engine: Any, daemon: Daemon, telegram: TelegramStandIn
) -> list[float]:
    """Press "Duyệt" on previews of waiting posts in the stand-in, one after another; return
    tap -> published_at (s). The preview is found by its approval_messages row."""
    out: list[float] = []
    decided_live: list[float] = []
    tapped: set[int] = set()
    for _ in range(args.approvals):
        found: list[tuple[int, str, int]] = []

        def a_preview(found: list[tuple[int, str, int]] = found) -> bool:
            for message in telegram.staff_messages():
                mid, data = int(message["message_id"]), approve_button(message)
                if data is None or mid in tapped:
                    continue
                post_id = scalar(
                    engine,
                    "SELECT p.id FROM posts p JOIN approval_messages m ON m.article_id = "
                    f"p.article_id WHERE m.chat_id = {STAFF_CHAT} AND m.message_id = {mid} "
                    "AND p.channel = 'facebook' AND p.status = 'pending'",
                )
                if post_id is not None:
                    found.append((mid, data, int(post_id)))
                    return True
            return False

        daemon.wait_for(a_preview, 180, "a preview with an approve button")
        mid, data, post_id = found[0]
        tapped.add(mid)
        # A person does not tap within a second of the last post going out; when the bench
        # does, `[publishing] pause_between` (1 s: two posts to one Page are spaced) is what
        # it measures. Tap once that pause has passed, so the figure is the wake-up path.
        with engine.connect() as conn:
            last = conn.execute(select(func.max(PostRow.published_at))).scalar()
        if last is not None:
            last = last if last.tzinfo else last.replace(tzinfo=UTC)
            wait = (last + PAUSE_BETWEEN - datetime.now(UTC)).total_seconds() + 0.05
            if wait > 0:
                time.sleep(wait)
        pressed = datetime.now(UTC)
        telegram.control("inject_callback", chat_id=STAFF_CHAT, message_id=mid,
                         user_id=APPROVER, data=data, first_name="Biên tập viên")  # fmt: skip
        live = f"SELECT published_at FROM posts WHERE id = {post_id}"
        daemon.wait_for(lambda live=live: scalar(engine, live) is not None, 60, f"post {post_id}")
        with engine.connect() as conn:
            decided, published = conn.execute(
                select(PostRow.decided_at, PostRow.published_at).where(PostRow.id == post_id)
            ).one()
        published = published if published.tzinfo else published.replace(tzinfo=UTC)
        decided = decided if decided.tzinfo else decided.replace(tzinfo=UTC)
        out.append((published - pressed).total_seconds())
        decided_live.append((published - decided).total_seconds())
    print(
        "tap on Telegram -> live on Facebook: " + ", ".join(f"{x:.2f}" for x in out)
        + f" s (p50 {statistics.median(out):.2f} s; decided -> live p50 "
        f"{statistics.median(decided_live):.2f} s)",
        flush=True,
    )  # fmt: skip
    return out


def report(
    args: argparse.Namespace,
    first_rate: float,
    steady: float,
    restarts: list[float],
    rss: tuple[float, float],
    latencies: list[float],
    naives: tuple[float, float],
    pinger: HealthPinger,
    taps: list[float],
) -> None:
    restart = statistics.median(restarts)
    every = [x for values in pinger.latencies.values() for x in values]
    p50, p99 = percentile(every, 0.5) * 1000, percentile(every, 0.99) * 1000
    print(f"\n{'figure':<52} {'measured':>12} {'goal':>12}  naive / ratio")
    rows = [
        ("steady: feed checks per daemon CPU-second", f"{steady:.0f}", ">= 1,000",
         f"naive {naives[0]:.0f}: {steady / naives[0]:.1f}x; beside {naives[1]:.0f}: "
         f"{steady / naives[1]:.1f}x (goal >= 10x)"),
        ("first poll: entries/s, stored and planned", f"{first_rate:.0f}", ">= 1,500", ""),
        ("restarted daemon's first poll, checks per CPU-s", f"{restart:.0f}",
         f">= {0.8 * steady:.0f}", f"{100 * restart / steady:.0f} % of steady (goal >= 80 %)"
         + (f"; median of {len(restarts)}: "
            + ", ".join(f"{100 * r / steady:.0f} %" for r in restarts) if len(restarts) > 1
            else "")),
        ("/healthz p50 / p99 (ms), whole run", f"{p50:.1f} / {p99:.1f}", "p99 <= 100", ""),
        ("peak RSS of the daemon (MB)", f"{rss[0]:.0f}", "<= 150",
         f"with its worker processes: {rss[1]:.0f} (sum of their peaks)"),
    ]  # fmt: skip
    if latencies:
        rows.append(("approval -> live on Facebook, p50 (s), CLI",
                     f"{statistics.median(latencies):.2f}", "<= 1",
                     "syndicator approve in another process"))  # fmt: skip
    if taps:
        rows.append(("approval -> live on Facebook, p50 (s), Telegram tap",
                     f"{statistics.median(taps):.2f}", "<= 1", "tap -> published_at"))  # fmt: skip
    for label, value, goal, extra in rows:
        print(f"{label:<52} {value:>12} {goal:>12}  {extra}")
    for phase in dict.fromkeys([*pinger.latencies, *pinger.failures]):
        values, fails = pinger.latencies.get(phase, []), pinger.failures.get(phase, 0)
        if not values:
            print(f"  /healthz during {phase}: no answer, {fails} refused (not listening yet)")
            continue
        print(
            f"  /healthz during {phase}: {len(values)} answers, p50 "
            f"{percentile(values, 0.5) * 1000:.1f} ms, p99 {percentile(values, 0.99) * 1000:.1f} "
            f"ms, max {max(values) * 1000:.1f} ms" + (f", {fails} failed" if fails else "")
        )


if __name__ == "__main__":
    raise SystemExit(main())
