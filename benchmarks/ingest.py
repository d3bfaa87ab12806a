"""Ingest benchmark: newsmirror and the old mirror's perform.js, side by side, same run.

    python benchmarks/ingest.py [--set small|large|both] [--runs 10] [--floor]

Both tools read the same feeds from the same local servers, in the same run,
interleaved (the order alternates each round), and the medians are compared:

- small: 20 feeds on 127.0.0.1 carrying the 463 distinct real posts with a body of
  ../shared/corpus/nodebe4-posts;
- large: 200 feeds with 20,000 items (the real posts, each a unique title and
  link) spread over 20 loopback hosts, 127.0.0.2 to 127.0.0.21, one server
  each, so per-host limits act as they would on the internet.

Every server is a ThreadingHTTPServer with a listen backlog of 128 (perform.js
opens every feed at once; a backlog of 5 would cost it dropped connections)
that answers conditional GETs with 304.

newsmirror runs two ways, each timed apart: `newsmirror fetch` then `newsmirror
export jekyll`, and `newsmirror run` (the same work in one process, its Jekyll tree
named by [publish.jekyll]), with the items taken
from the feeds as perform.js takes them (full_text = "feed", hotlinked images).
perform.js runs unmodified from ../shared/reference/be4jekyll with rss-parser
3.8.0 installed by npm into a cache folder. A cold run starts from an empty
folder; an idle run is a second run in the same folder with nothing new, and
must write nothing on newsmirror's side (the archive file and every exported
file keep their bytes and modification times).

A side's items/s is the posts it wrote over its wall time, per round (perform.js loses whole
feeds under load and goes on: the report says how many posts it wrote; newsmirror must
write them all). Each command's CPU time and peak RSS (its children's included) come from
GNU time. Printed: wall
seconds, items/s, CPU seconds and peak MB per side (medians), the ratios, and
whether each issue-12 target holds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from hashlib import sha1
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from feeds_from_posts import rss  # noqa: E402

from newsmirror.jekyll_import import read_post  # noqa: E402

SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "nodebe4-posts"
PERFORM_JS = SHARED / "reference" / "be4jekyll" / "perform.js"
NPM_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newsmirror-bench"


# ---------------------------------------------------------------- feed sets


@dataclass
class FeedSet:
    name: str
    items: int
    feeds: dict[str, dict[str, bytes]]  # host -> {path: body}


def corpus_posts() -> list:
    seen: set[str] = set()
    posts = []
    for path in sorted(CORPUS.glob("*/_posts/*.md")):
        post = read_post(path)
        # perform.js fails a whole feed on an item without content: leave those out
        if post.url not in seen and post.content.strip():
            seen.add(post.url)
            posts.append(post)
    return posts


def small_set() -> FeedSet:
    posts = corpus_posts()
    feeds = {
        f"/feed{f}.xml": rss(f"源{f}", f"https://example.org/{f}/", posts[f::20]) for f in range(20)
    }
    return FeedSet("small", len(posts), {"127.0.0.1": feeds})


def large_set(n_feeds: int = 200, per_feed: int = 100, n_hosts: int = 20) -> FeedSet:
    posts = corpus_posts()
    hosts: dict[str, dict[str, bytes]] = {f"127.0.0.{2 + h}": {} for h in range(n_hosts)}
    for f in range(n_feeds):
        items = []
        for i in range(per_feed):
            k = f * per_feed + i
            post = posts[k % len(posts)]
            # Unique in perform.js's terms too: its file name keeps 50 characters of the
            # title, and it skips a link found anywhere in its list (a substring match).
            fields = {**post.__dict__, "title": f"{k:05d} {post.title}"}
            fields["url"] = f"{post.url.rstrip('/')}/{k:05d}.html"
            items.append(post.__class__(**fields))
        host = f"127.0.0.{2 + f % n_hosts}"
        hosts[host][f"/feed{f}.xml"] = rss(f"源{f}", f"https://example.org/{f}/", items)
    return FeedSet("large", n_feeds * per_feed, hosts)


# ---------------------------------------------------------------- servers


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class Files:
    """The bodies a server answers with, and their ETags (replaceable as a whole)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.tags = {path: '"' + sha1(body).hexdigest()[:16] + '"' for path, body in files.items()}


def handler(source: Any) -> type[BaseHTTPRequestHandler]:
    """A handler answering from ``source.files`` / ``source.tags`` (read per request, so
    that the caller may swap them), with 304 for a matching If-None-Match."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            files, tags = source.files, source.tags
            body = files.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            tag = tags[self.path]
            if self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                self.send_header("ETag", tag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", tag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve(feed_set: FeedSet) -> Iterator[list[tuple[str, str]]]:
    """Start one server per host; yield (source name, feed URL) for every feed."""
    with ExitStack() as stack:
        urls = []
        for host, files in feed_set.feeds.items():
            server = _Server((host, 0), handler(Files(files)))
            threading.Thread(target=server.serve_forever, daemon=True).start()
            stack.callback(server.server_close)
            stack.callback(server.shutdown)
            port = server.server_address[1]
            urls += [(f"源{p[5:-4]}", f"http://{host}:{port}{p}") for p in files]
        yield sorted(urls, key=lambda u: int(u[0][1:]))


# ---------------------------------------------------------------- runners


@dataclass
class Measure:
    wall: float
    cpu: float
    peak_mb: float
    items: int = 0  # posts written (cold runs)

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            self.wall + other.wall, self.cpu + other.cpu, max(self.peak_mb, other.peak_mb)
        )

    @property
    def items_per_s(self) -> float:
        return self.items / self.wall


TIME = "/usr/bin/time"


def measured(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[Measure, str]:
    """Run ``cmd``; its wall seconds, CPU seconds and peak RSS (with its children's).

    GNU time starts it, so that the peak is the command's own: a child of this process
    would start its count at this process's size (Linux carries the RSS high-water mark
    of the forking process into the exec'd program), which would floor both sides'
    figures at the benchmark's own memory."""
    with tempfile.NamedTemporaryFile("r") as report, tempfile.TemporaryFile() as out:
        wrapped = [TIME, "-f", "%e %U %S %M", "-o", report.name, *cmd]
        started = time.perf_counter()
        proc = subprocess.run(wrapped, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
        figures = report.read().split()[-4:]
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{text[-3000:]}")
    _elapsed, user, system, peak_kb = figures
    return Measure(wall, float(user) + float(system), int(peak_kb) / 1024), text


def node_modules() -> Path:
    target = NPM_CACHE / "node_modules"
    if not (target / "rss-parser").is_dir():
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(NPM_CACHE), "rss-parser@3.8.0"],
            check=True,
        )
    return target


def perform_js(folder: Path, urls: list[tuple[str, str]], modules: Path) -> tuple[Measure, int]:
    if not (folder / "subs.json").exists():
        subs = [{"site": name, "url": url} for name, url in urls]
        (folder / "subs.json").write_text(json.dumps(subs, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, "NODE_PATH": str(modules)}
    measure, _ = measured(["node", str(PERFORM_JS)], folder, env)
    posts = folder / "_posts"
    return measure, len(os.listdir(posts)) if posts.is_dir() else 0


def write_config(folder: Path, urls: list[tuple[str, str]], extra: list[str]) -> Path:
    lines = ["[archive]", 'path = "archive.sqlite"', "[media]", 'mode = "hotlink"', *extra]
    # `run` writes the Jekyll tree to out/, as `export jekyll out` does
    lines += ["[publish.jekyll]", 'path = "out"']
    for name, url in urls:
        lines += ["[[sources]]", f'name = "{name}"', f'feeds = ["{url}"]', 'full_text = "feed"']
    path = folder / "newsmirror.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


SIDES = ("perform.js", "fetch+export", "run")
FLOOR_SIDES = ("floor f+e", "floor run")  # --floor: benchmarks/ingest_floor.py
FLOOR = ROOT / "benchmarks" / "ingest_floor.py"


def floor(folder: Path, side: str, urls: list[tuple[str, str]]) -> tuple[Measure, int]:
    """The least work newsmirror's job needs (see ingest_floor.py), parsing on 2 cores."""
    base = [sys.executable, str(FLOOR)]
    env = {**os.environ, "NM_FLOOR_PARSERS": "2"}
    feeds = [url for _, url in urls]
    if side == "floor run":
        measure, _ = measured([*base, "run", "a.sqlite", "out", *feeds], folder, env)
    else:
        fetch, _ = measured([*base, "fetch", "a.sqlite", *feeds], folder, env)
        export, _ = measured([*base, "export", "a.sqlite", "out"], folder, env)
        measure = fetch + export
    posts = folder / "out" / "_posts"
    return measure, len(os.listdir(posts)) if posts.is_dir() else 0


def newsmirror(folder: Path, side: str) -> tuple[Measure, int]:
    base = [sys.executable, "-m", "newsmirror", "-c", "newsmirror.toml"]
    out = folder / "out"
    if side == "run":
        measure, _ = measured([*base, "run"], folder)
    else:
        fetch, _ = measured([*base, "fetch"], folder)
        export, _ = measured([*base, "export", "jekyll", str(out)], folder)
        measure = fetch + export
    posts = out / "_posts"
    return measure, len(os.listdir(posts)) if posts.is_dir() else 0


def tree_state(folder: Path) -> dict[str, tuple[int, int]]:
    state = {}
    for path in folder.rglob("*"):
        # the archive records each check (health, last run): only the outputs must stay
        if path.is_file() and path.name != "newsmirror.toml" and "archive" not in path.name:
            stat = path.stat()
            state[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return state


# ---------------------------------------------------------------- rounds


def one_round(
    feed_set: FeedSet,
    urls: list[tuple[str, str]],
    modules: Path,
    extra: list[str],
    shift: int,
    scratch: Path,
    sides: tuple[str, ...] = SIDES,
) -> dict[str, dict[str, Measure]]:
    """Each side's cold run, then each side's idle run; the order of the sides
    rotates with ``shift`` so that none is always first.

    The rounds' folders stay until the benchmark ends: on this kind of disk (ext4
    without a journal) creating files is several times slower for about a minute
    after many were deleted, which would charge one round's clean-up to the next."""
    result: dict[str, dict[str, Measure]] = {side: {} for side in sides}
    tmp = tempfile.mkdtemp(dir=scratch)
    dirs = {side: Path(tmp) / str(i) for i, side in enumerate(sides)}
    for side, folder in dirs.items():
        folder.mkdir()
        if side in SIDES[1:]:
            write_config(folder, urls, extra)

    def one(side: str, phase: str) -> None:
        folder = dirs[side]
        if side == "perform.js":
            measure, posts = perform_js(folder, urls, modules)
            # Under load perform.js loses whole feeds (it logs the error and goes on): its
            # items/s counts the posts it wrote, and the report says how many it lost.
            if phase == "cold" and posts < feed_set.items * 0.5:
                raise SystemExit(f"perform.js wrote {posts} of {feed_set.items} posts")
        elif side in FLOOR_SIDES:
            measure, posts = floor(folder, side, urls)
        else:
            before = tree_state(folder)
            measure, posts = newsmirror(folder, side)
            if phase == "cold" and posts != feed_set.items:
                raise SystemExit(f"newsmirror {side} wrote {posts} of {feed_set.items} posts")
            if phase == "idle" and tree_state(folder) != before:
                changed = set(tree_state(folder).items()) ^ set(before.items())
                raise SystemExit(f"newsmirror {side}'s idle run wrote: {sorted(changed)[:5]}")
        measure.items = posts
        result[side][phase] = measure

    order = sides[shift % len(sides) :] + sides[: shift % len(sides)]
    for phase in ("cold", "idle"):
        for side in order:
            one(side, phase)
    return result


ROWS = [  # label, phase, field, the target as a limit on newsmirror / perform.js
    ("cold s", "cold", "wall", None),
    ("cold items/s", "cold", "wall", 1.2),
    ("cold CPU s", "cold", "cpu", 1.0),
    ("cold peak MB", "cold", "peak_mb", 1.0),
    ("idle s", "idle", "wall", 0.8),
    ("idle CPU s", "idle", "cpu", None),
    ("idle peak MB", "idle", "peak_mb", None),
]


def report(feed_set: FeedSet, rounds: list[dict[str, dict[str, Measure]]]) -> bool:
    def med(side: str, phase: str, field: str) -> float:
        return statistics.median(getattr(r[side][phase], field) for r in rounds)

    print(
        f"\n{feed_set.name}: {sum(len(f) for f in feed_set.feeds.values())} feeds, "
        f"{feed_set.items} items, {len(feed_set.feeds)} host(s); medians of {len(rounds)} "
        "interleaved rounds"
    )
    print(
        f"{'figure':<15}{'perform.js':>11}{'fetch+export':>13}{'ratio':>7}{'run':>9}{'ratio':>7}"
        "  target"
    )
    ok = True
    for label, phase, field, limit in ROWS:
        js = med("perform.js", phase, field)
        if label == "cold items/s":
            js = statistics.median(r["perform.js"]["cold"].items_per_s for r in rounds)
        cells, marks = [], []
        for side in ("fetch+export", "run"):
            nm = med(side, phase, field)
            if label == "cold items/s":
                nm = statistics.median(r[side]["cold"].items_per_s for r in rounds)
                ratio = nm / js
                holds = limit is None or ratio >= limit
            else:
                ratio = nm / js
                holds = limit is None or ratio <= limit
            ok &= holds
            cells.append(f"{nm:>{13 if side != 'run' else 9}.2f}{ratio:>6.2f}x")
            marks.append("" if limit is None else ("holds" if holds else "MISSED"))
        js_cell = js
        target = (
            "" if limit is None else (">= " if label == "cold items/s" else "<= ") + f"{limit}x"
        )
        verdict = f"{target} {'/'.join(marks)}" if target else ""
        print(f"{label:<15}{js_cell:>11.2f}{cells[0]}{cells[1]}  {verdict}")
    if FLOOR_SIDES[0] in rounds[0]:
        floor_report(rounds, med)
    written = sorted(r["perform.js"]["cold"].items for r in rounds)
    if written[0] < feed_set.items:
        print(
            f"perform.js wrote {written[0]}-{written[-1]} of {feed_set.items} posts in its cold"
            " runs (what it did not write is not in its items/s); newsmirror wrote all"
        )
    return ok


def floor_report(rounds: list[dict[str, dict[str, Measure]]], med: Any) -> None:
    """The floor's figures beside perform.js's (a bound on any Python design, no target)."""
    print(f"{'floor (same rounds)':<26}{'floor f+e':>13}{'ratio':>7}{'floor run':>10}{'ratio':>7}")
    for label, phase, field, _ in ROWS:
        js = med("perform.js", phase, field)
        if label == "cold items/s":
            js = statistics.median(r["perform.js"]["cold"].items_per_s for r in rounds)
        cells = ""
        for side in FLOOR_SIDES:
            if label == "cold items/s":
                value = statistics.median(r[side]["cold"].items_per_s for r in rounds)
            else:
                value = med(side, phase, field)
            cells += f"{value:>{13 if side == FLOOR_SIDES[0] else 10}.2f}{value / js:>6.2f}x"
        print(f"{label:<26}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=["small", "large", "both"], default="both")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="LINE",
        help="extra newsmirror.toml line(s) before the sources, e.g. '[fetch]' 'per_host = 8'",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run ingest_floor.py, the least work the job needs in Python, in the same rounds",
    )
    args = parser.parse_args()
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise SystemExit("perform.js needs node and npm (Debian: apt install nodejs npm)")
    if not Path(TIME).is_file():
        raise SystemExit("the benchmark measures with GNU time (Debian: apt install time)")
    modules = node_modules()
    # As installed by pip, whose install step compiles the bytecode; an editable checkout
    # under PYTHONDONTWRITEBYTECODE would compile every module from source on every run.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    sets = {"small": [small_set], "large": [large_set], "both": [small_set, large_set]}[args.set]
    sides = SIDES + FLOOR_SIDES if args.floor else SIDES
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="nm-ingest-") as scratch:
        for make in sets:
            feed_set = make()
            with serve(feed_set) as urls:
                rounds = [
                    one_round(feed_set, urls, modules, args.config, i, Path(scratch), sides)
                    for i in range(args.runs)
                ]
            all_ok &= report(feed_set, rounds)
    print("\nall targets hold" if all_ok else "\nsome targets MISSED")


if __name__ == "__main__":
    main()
