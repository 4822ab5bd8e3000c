"""Several daemons on one PostgreSQL database, under faults and SIGKILLs: do the invariants hold?

    python bench/chaos.py [--short] [--db-url URL] [--seed N]

Starts the stand-ins (portal, Graph, Zalo OA, Telegram, Zalo Bot) in one helper process
(`bench/chaos_world.py`), then 2-3 `syndicator run` daemons on one PostgreSQL database (its public
schema is WIPED first: give it a database of its own; the default is `syndicator_chaos`, made
with `runuser -u postgres -- createdb -O syndicator syndicator_chaos`). Articles appear on the portal's feeds
and are approved by an `[[approval.auto_approve]]` rule for both channels. Meanwhile faults are
queued on the stand-ins through their `/_sandbox/faults` routes (Graph code 2, half of them
after the post was created; Graph accept-then-hang; Zalo -32 on create; Telegram 429) and
random daemons are SIGKILLed and restarted at random moments. Then the faults stop and the
invariants are checked and printed; the exit status is 1 when any fails:

- nothing lost: every article put on a feed is in the database;
- exactly once: every (article, channel) is live exactly once on the stand-in, and recorded
  `published` with that stand-in's id, within `settle` seconds after the faults stopped;
- `syndicator audit verify` passes;
- no source fetched by two instances for one due time (the portal's request log: two fetches
  of one feed closer than half the poll interval).

`--short` (CI: tests/e2e/test_chaos_short.py) finishes in under two minutes on two cores.
Loopback only; every process started here is stopped in a `finally`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import tomli_w
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chaos_world import INTERVAL, MARK  # noqa: E402

KEY = "chaos-secret-key-0123456789abcdef"  # SYNDICATOR_SECRET_KEY of the bench daemons


@dataclass(frozen=True)
class Plan:
    instances: int
    sources: int
    articles: int  # each goes to both channels
    chaos: float  # seconds of faults and kills
    kills: int
    settle: float  # bound: everything published and recorded this long after the faults stop


SHORT = Plan(instances=2, sources=8, articles=40, chaos=40, kills=5, settle=50)
DEFAULT = Plan(instances=3, sources=20, articles=150, chaos=120, kills=15, settle=240)


# -- the driver ----------------------------------------------------------------------------------


class Daemons:
    """The `syndicator run` processes: start, SIGKILL, restart, stop (always, in a finally)."""

    def __init__(self, cfg: Path, logs: Path, count: int) -> None:
        self.cfg, self.logs = cfg, logs
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self.env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        self.env["SYNDICATOR_SECRET_KEY"] = KEY

    def start(self, i: int) -> None:
        with (self.logs / f"daemon-{i}.log").open("ab") as out:
            self.procs[i] = subprocess.Popen(
                [sys.executable, "-m", "syndicator", "--config", str(self.cfg),
                 "--log-format", "json", "run"],
                stdout=out, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT,
            )  # fmt: skip

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        self.procs[i] = None

    def dead(self) -> list[int]:
        return [i for i, p in enumerate(self.procs) if p is None or p.poll() is not None]

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for i, proc in enumerate(self.procs):
            if proc is not None:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.kill(i)


def control(client: httpx.Client, base: str, action: str, **body: Any) -> Any:
    answer = client.post(f"{base}/_sandbox/{action}", json=body, timeout=10)
    answer.raise_for_status()
    return answer.json()["result"]


def pending_faults(client: httpx.Client, base: str) -> int:
    return len(client.get(f"{base}/_sandbox/state", timeout=10).json()["faults"])


def inject(client: httpx.Client, urls: dict[str, str], rng: random.Random) -> list[str]:
    """Queue at most one fault per stand-in whose queue is empty; return what was queued."""
    done: list[str] = []
    if not pending_faults(client, urls["graph"]) and rng.random() < 0.3:
        roll = rng.random()
        if roll < 0.25:  # api-notes 0: Graph creates, then the answer is lost
            control(client, urls["graph"], "faults", kind="accept_then_hang", scope="publish",
                    hold=8)  # fmt: skip
            done.append("graph hang")
        else:  # code 2, half of them after the post was created (arsduo/koala#699)
            commit = roll < 0.6
            control(client, urls["graph"], "faults", kind="error", scope="publish", code=2,
                    commit=commit)  # fmt: skip
            done.append("graph code 2" + (" (created)" if commit else ""))
    if not pending_faults(client, urls["zalo"]) and rng.random() < 0.1:
        control(client, urls["zalo"], "faults", kind="error", scope="create", code=-32)
        done.append("zalo -32")
    if not pending_faults(client, urls["telegram"]) and rng.random() < 0.2:
        control(client, urls["telegram"], "faults", kind="429", scope="send", retry_after=3)
        done.append("telegram 429")
    return done


def reset_database(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def recorded(url: str) -> tuple[set[str], dict[tuple[str, str], list[tuple[str, str | None]]]]:
    """The chaos articles in the database (their marks) and their posts by (mark, channel)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            titles = conn.execute(text("SELECT id, title FROM articles")).all()
            marks = {aid: t[t.index(MARK) : t.index("]", t.index(MARK))] for aid, t in titles
                     if MARK in t}  # fmt: skip
            posts: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
            rows = conn.execute(text("SELECT article_id, channel, status, external_id FROM posts"))
            for aid, channel, status, external in rows:
                if aid in marks:
                    posts.setdefault((marks[aid], channel), []).append((status, external))
    finally:
        engine.dispose()
    return set(marks.values()), posts


def settled(url: str, released: int) -> bool:
    marks, posts = recorded(url)
    return (
        len(marks) == released
        and len(posts) == 2 * released
        and all([s for s, _ in found] == ["published"] for found in posts.values())
    )


def live_on_standins(
    client: httpx.Client, urls: dict[str, str]
) -> dict[tuple[str, str], list[str]]:
    """(mark, channel) -> the ids of the live posts carrying that mark on the stand-ins."""
    found: dict[tuple[str, str], list[str]] = {}
    graph = client.get(f"{urls['graph']}/_sandbox/state", timeout=30).json()
    for post in graph["posts"]:
        if not post["deleted"] and MARK in post["message"]:
            mark = post["message"][post["message"].index(MARK) :][:10]
            found.setdefault((mark, "facebook"), []).append(post["id"])
    zalo = client.get(f"{urls['zalo']}/_sandbox/state", timeout=30).json()
    for article in zalo["articles"]:
        if MARK in article["title"]:
            mark = article["title"][article["title"].index(MARK) :][:10]
            found.setdefault((mark, "zalo"), []).append(article["id"])
    return found


def double_fetches(fetches: list[tuple[float, str]]) -> list[str]:
    """Two fetches of one feed closer than half the interval: two instances on one due time."""
    last: dict[str, float] = {}
    bad = []
    for at, path in sorted(fetches):
        if path in last and at - last[path] < INTERVAL / 2:
            bad.append(f"{path} at {at - last[path]:.1f} s apart")
        last[path] = at
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI variant (under 2 minutes)")
    parser.add_argument("--db-url", default=os.environ.get(
        "SYNDICATOR_CHAOS_PG_URL",
        "postgresql+psycopg://syndicator:syndicator@127.0.0.1:5432/syndicator_chaos"))  # fmt: skip
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    plan = SHORT if args.short else DEFAULT
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    return run(plan, args.db_url, seed)


def run(plan: Plan, db_url: str, seed: int) -> int:
    rng = random.Random(seed)
    started = time.monotonic()
    print(f"chaos: {plan} seed={seed}", flush=True)
    reset_database(db_url)
    work = Path(tempfile.mkdtemp(prefix="syndicator-chaos-"))
    helper = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "chaos_world.py"), db_url, str(plan.sources)],
        stdout=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    daemons: Daemons | None = None
    try:
        assert helper.stdout is not None
        hello = json.loads(helper.stdout.readline())
        urls = hello["urls"]
        cfg = work / "chaos.toml"
        cfg.write_text(tomli_w.dumps(hello["config"]), encoding="utf-8")
        env = {**os.environ, "SYNDICATOR_SECRET_KEY": KEY}
        subprocess.run([sys.executable, "-m", "syndicator", "--config", str(cfg), "db", "upgrade"],
                       check=True, env=env, cwd=ROOT, capture_output=True)  # fmt: skip
        daemons = Daemons(cfg, work, plan.instances)
        for i in range(plan.instances):
            daemons.start(i)
        client = httpx.Client(trust_env=False)
        kill_at = sorted(rng.uniform(0.1, 0.9) * plan.chaos for _ in range(plan.kills))
        restart_at: dict[int, float] = {}
        injected: list[str] = []
        t0 = time.monotonic()
        while (elapsed := time.monotonic() - t0) < plan.chaos:
            # Articles arrive over the first 70 % of the window.
            due = min(plan.articles, int(plan.articles * elapsed / (0.7 * plan.chaos)) + 1)
            have = client.get(f"{urls['portal']}/_sandbox/state").json()["released"]
            if due > have:
                released = control(client, urls["portal"], "grow", count=due - have)
            injected += inject(client, urls, rng)
            while kill_at and kill_at[0] <= elapsed:
                kill_at.pop(0)
                alive = [i for i in range(plan.instances) if i not in daemons.dead()]
                if alive:
                    victim = rng.choice(alive)
                    daemons.kill(victim)
                    restart_at[victim] = elapsed + rng.uniform(0.5, 4.0)
                    print(f"  {elapsed:5.1f} s: SIGKILL daemon {victim}", flush=True)
            for i, when in list(restart_at.items()):
                if when <= elapsed:
                    daemons.start(i)
                    del restart_at[i]
            time.sleep(0.5)
        released = control(client, urls["portal"], "grow", count=0)
        for base in (urls["graph"], urls["zalo"], urls["telegram"]):
            control(client, base, "clear_faults")
        for i in daemons.dead():
            daemons.start(i)
        calm = time.monotonic()
        print(f"faults stopped after {calm - t0:.0f} s; {len(injected)} faults injected, "
              f"{plan.kills} kills; {released} articles released", flush=True)  # fmt: skip
        while time.monotonic() - calm < plan.settle and not settled(db_url, released):
            time.sleep(2)
        took = time.monotonic() - calm
        daemons.stop_all()
        return check(plan, db_url, cfg, env, client, urls, released, took, started)
    finally:
        if daemons is not None:
            for i in range(plan.instances):
                daemons.kill(i)
        helper.terminate()
        try:
            helper.wait(10)
        except subprocess.TimeoutExpired:
            helper.kill()


def check(plan: Plan, db_url: str, cfg: Path, env: dict[str, str], client: httpx.Client,
          urls: dict[str, str], released: int, took: float, started: float) -> int:  # fmt: skip
    """Print every invariant with its verdict; 0 when all hold."""
    failures: list[str] = []
    marks, posts = recorded(db_url)
    expected = {f"{MARK}{n:04d}" for n in range(released)}
    lost = sorted(expected - marks)
    if lost:
        failures.append(f"nothing lost: {len(lost)} articles never stored: {lost[:5]}")
    live = live_on_standins(client, urls)
    counts: dict[str, int] = {}
    for mark in sorted(expected):
        for channel in ("facebook", "zalo"):
            rows = posts.get((mark, channel), [])
            ids = live.get((mark, channel), [])
            states = [status for status, _ in rows]
            ok = len(ids) == 1 and states == ["published"] and rows[0][1] == ids[0]
            key = "ok" if ok else f"{channel}: {len(ids)} live, recorded {states}"
            counts[key] = counts.get(key, 0) + 1
    bad = {k: v for k, v in counts.items() if k != "ok"}
    if bad:
        failures.append(f"exactly once, recorded within {plan.settle:.0f} s: {bad}")
    audit = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(cfg), "audit", "verify"],
        env=env, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    if audit.returncode != 0:
        failures.append(f"audit verify: exit {audit.returncode}: {audit.stdout}{audit.stderr}")
    fetches = client.get(f"{urls['portal']}/_sandbox/state").json()["fetches"]
    doubles = double_fetches([(at, path) for at, path in fetches])
    if doubles:
        failures.append(f"one fetch per due time: {len(doubles)} double fetches: {doubles[:5]}")
    print(f"posts published exactly once and recorded: {counts.get('ok', 0)} of {2 * released}")
    print(f"settled {took:.1f} s after the faults stopped (bound {plan.settle:.0f} s)")
    print(f"feed fetches: {len(fetches)}, double: {len(doubles)}; audit verify exit "
          f"{audit.returncode}; total {time.monotonic() - started:.0f} s")  # fmt: skip
    for failure in failures:
        print(f"INVARIANT FAILED: {failure}")
    print("all invariants hold" if not failures else f"{len(failures)} invariant(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
