"""Workers on the PostgreSQL job queue against the in-process SQLite run (issue 11).

    python benchmarks/workers.py [--feeds 1000] [--items 5] [--latency 0.05] [--rounds 3]
                                 [--articles 100000] [--skip-build]

Part 1, throughput: ``--feeds`` local feeds of ``--items`` items each, every response
delayed by ``--latency`` seconds, served by a separate process spread over 20 loopback
hosts (127.0.0.2 ... 127.0.0.21, so per-host limits act as on the internet). Each
round, in rotating order, on a fresh archive: ``newsmirror fetch`` on SQLite, and
``schedule --all`` then 1, 2 and 4 ``worker --until-idle`` processes on PostgreSQL.
Items/s = articles stored / wall time (schedule + workers), medians over rounds.

Part 2, site build: an archive of ``--articles`` articles made from the real posts of
``../shared/corpus`` (benchmarks/search.py's maker), copied to PostgreSQL with
``migrate-archive``; then ``newsmirror build`` (with search) from each, interleaved.
Target: PostgreSQL within 1.5x of SQLite's time.

Needs a PostgreSQL server: NEWSMIRROR_TEST_PG (default postgresql:///newsmirror_test).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

PG_BASE = os.environ.get("NEWSMIRROR_TEST_PG", "postgresql:///newsmirror_test")
HOSTS = [f"127.0.0.{i}" for i in range(2, 22)]
NEWSMIRROR = [sys.executable, "-m", "newsmirror"]

SERVER = r"""
import sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
feeds, items, latency, hosts = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]

def body(n):
    parts = []
    for i in range(items):
        parts.append(
            f"<item><title>第{n}号源 第{i}条 消息</title><link>https://n{n}.example/{i}</link>"
            f"<guid>f{n}-{i}</guid><pubDate>Mon, 0{1 + i % 9} Jan 2024 08:{n % 60:02d}:00 +0800"
            f"</pubDate><content:encoded><![CDATA[" + f"<p>第{n}号源的第{i}条，正文文字。</p>" * 20
            + "]]></content:encoded></item>")
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>'
            '<link>https://example.org/</link>' + "".join(parts) + "</channel></rss>").encode()

BODIES = {f"/f{n}.xml": body(n) for n in range(feeds)}

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        data = BODIES.get(self.path)
        time.sleep(latency)
        self.send_response(200 if data else 404)
        data = data or b"no"
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a): pass

class S(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

for host in hosts:
    srv = S((host, 8931), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def config_text(feeds: int) -> str:
    lines = ["[fetch]", "retries = 0", "[media]", 'mode = "hotlink"']
    per_source = 10
    for s in range(feeds // per_source):
        urls = ", ".join(
            f'"http://{HOSTS[n % len(HOSTS)]}:8931/f{n}.xml"'
            for n in range(s * per_source, (s + 1) * per_source)
        )
        lines += ["[[sources]]", f'name = "源{s}"', f"feeds = [{urls}]", 'full_text = "feed"']
    return "\n".join(lines) + "\n"


def new_schema(conn: object, name: str) -> str:
    conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')  # type: ignore[attr-defined]
    conn.execute(f'CREATE SCHEMA "{name}"')  # type: ignore[attr-defined]
    joiner = "&" if "?" in PG_BASE else "?"
    return f"{PG_BASE}{joiner}options=-csearch_path%3D{name}%2Cpublic"


def articles(url_or_path: str) -> int:
    from newsmirror.store import Archive

    location: str | Path = url_or_path if "://" in url_or_path else Path(url_or_path)
    with Archive.open(location, create=False) as archive:
        return archive.counts()["articles"]


def run_sqlite(folder: Path) -> float:
    folder.mkdir(parents=True)
    (folder / "newsmirror.toml").write_text(CONFIG, encoding="utf-8")
    start = time.perf_counter()
    subprocess.run(
        [*NEWSMIRROR, "-c", str(folder / "newsmirror.toml"), "fetch"],
        check=True,
        capture_output=True,
        env=ENV_LITE,
    )
    took = time.perf_counter() - start
    return articles(str(folder / "archive.sqlite")) / took


def run_workers(folder: Path, conn: object, workers: int, round_no: int) -> float:
    folder.mkdir(parents=True)
    (folder / "newsmirror.toml").write_text(CONFIG, encoding="utf-8")
    url = new_schema(conn, f"bench_w{workers}_{round_no}")
    env = {**ENV_LITE, "NEWSMIRROR_ARCHIVE_URL": url}
    cmd = [*NEWSMIRROR, "-c", str(folder / "newsmirror.toml")]
    subprocess.run([*cmd, "schedule"], check=True, capture_output=True, env=env)  # schema, sources
    # The clock starts with the queueing: schedule --all queues every feed.
    start = time.perf_counter()
    subprocess.run([*cmd, "schedule", "--all"], check=True, capture_output=True, env=env)
    procs = [
        subprocess.Popen(
            [*cmd, "worker", "--until-idle"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"worker failed: {err.decode()[-500:]}")
    took = time.perf_counter() - start
    return articles(url) / took


def throughput(args: argparse.Namespace, tmp: Path) -> None:
    import psycopg

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.feeds), str(args.items), str(args.latency), *HOSTS],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    conn = psycopg.connect(PG_BASE, autocommit=True)
    sides = ["sqlite", 1, 2, 4]
    figures: dict[object, list[float]] = {s: [] for s in sides}
    try:
        for r in range(args.rounds):
            order = sides[r % len(sides) :] + sides[: r % len(sides)]
            for side in order:
                where = tmp / f"r{r}-{side}"
                rate = (
                    run_sqlite(where)
                    if side == "sqlite"
                    else run_workers(where, conn, int(side), r)
                )
                figures[side].append(rate)
                print(f"  round {r + 1}: {side!s:>6} {rate:8.1f} items/s", flush=True)
    finally:
        server.kill()
        for side in sides[1:]:
            for r in range(args.rounds):
                conn.execute(f'DROP SCHEMA IF EXISTS "bench_w{side}_{r}" CASCADE')
    base = statistics.median(figures["sqlite"])
    print(
        f"\nthroughput, {args.feeds} feeds x {args.items} items, {args.latency * 1000:.0f} ms"
        f" latency, medians of {args.rounds} rounds:"
    )
    print(f"{'run':<24}{'items/s':>10}{'vs SQLite':>12}")
    for side in sides:
        name = "in-process SQLite fetch" if side == "sqlite" else f"{side} worker(s), PostgreSQL"
        rate = statistics.median(figures[side])
        print(f"{name:<24}{rate:>10.1f}{rate / base:>11.2f}x")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak MB of a command (GNU time)."""
    out = tempfile.NamedTemporaryFile(delete=False)  # noqa: SIM115 (GNU time writes it)
    out.close()
    start = time.perf_counter()
    subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", out.name, *cmd],
        check=True,
        capture_output=True,
        env=env,
    )
    took = time.perf_counter() - start
    peak = int(Path(out.name).read_text().split()[-1]) / 1024
    os.unlink(out.name)
    return took, peak


def site_build(args: argparse.Namespace, tmp: Path) -> None:
    import psycopg
    from search import make_archive

    lite = tmp / "big" / "archive.sqlite"
    lite.parent.mkdir(parents=True)
    t0 = time.perf_counter()
    make_archive(lite, args.articles)
    print(
        f"\nmade {args.articles} articles in SQLite: {time.perf_counter() - t0:.0f} s", flush=True
    )
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        url = new_schema(conn, "bench_big")
    t0 = time.perf_counter()
    subprocess.run(
        [*NEWSMIRROR, "migrate-archive", str(lite), url],
        check=True,
        capture_output=True,
        env=ENV_LITE,
        cwd=lite.parent,
    )
    print(f"migrate-archive to PostgreSQL: {time.perf_counter() - t0:.0f} s", flush=True)
    figures: dict[str, list[tuple[float, float]]] = {"sqlite": [], "postgresql": []}
    for r in range(args.build_rounds):
        for side in ["sqlite", "postgresql"] if r % 2 == 0 else ["postgresql", "sqlite"]:
            out = tmp / f"site-{side}-{r}"
            env = dict(ENV_LITE)
            cmd = [*NEWSMIRROR, "--archive", str(lite), "build", str(out)]
            if side == "postgresql":
                env["NEWSMIRROR_ARCHIVE_URL"] = url
                cmd = [*NEWSMIRROR, "build", str(out)]
            took, peak = timed(cmd, env)
            figures[side].append((took, peak))
            print(f"  build {r + 1}: {side:<10} {took:6.1f} s {peak:6.0f} MB", flush=True)
            shutil.rmtree(out)
    with psycopg.connect(PG_BASE, autocommit=True) as fresh:  # the first may have timed out
        fresh.execute('DROP SCHEMA IF EXISTS "bench_big" CASCADE')
    lite_s = statistics.median(t for t, _ in figures["sqlite"])
    pg_s = statistics.median(t for t, _ in figures["postgresql"])
    lite_mb = max(m for _, m in figures["sqlite"])
    pg_mb = max(m for _, m in figures["postgresql"])
    verdict = "holds" if pg_s <= 1.5 * lite_s else "MISSED"
    print(f"\nsite build, {args.articles} articles with search, medians of {args.build_rounds}:")
    print(
        f"  SQLite {lite_s:.1f} s ({lite_mb:.0f} MB), PostgreSQL {pg_s:.1f} s ({pg_mb:.0f} MB):"
        f" {pg_s / lite_s:.2f}x (target <= 1.5x: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--build-rounds", type=int, default=2)
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    global CONFIG
    CONFIG = config_text(args.feeds)
    with tempfile.TemporaryDirectory(prefix="nm-workers-") as folder:
        tmp = Path(folder)
        if not args.skip_throughput:
            throughput(args, tmp)
        if not args.skip_build:
            site_build(args, tmp)


CONFIG = ""
ENV_LITE = {k: v for k, v in os.environ.items() if k != "NEWSMIRROR_ARCHIVE_URL"}

if __name__ == "__main__":
    main()
