"""`newsmirror run` end to end: fetch, site with search, Jekyll tree, publish.

    python benchmarks/run.py [--rounds 3] [--runs-of-ten 100] [--quick]

20 feeds on 127.0.0.1 carry 2,000 items made from the real posts of
../shared/corpus/nodebe4-posts (each a unique title, link and date; full_text =
"feed", images hotlinked). The server is a ThreadingHTTPServer with a listen
backlog of 128 that answers conditional GETs with 304 (benchmarks/ingest.py's).

Each mirror folder's newsmirror.toml writes [publish.site] (search = true) and
[publish.jekyll] (layouts = true), and publishes them to three targets:

- git-site: the site, to branch main of a local bare repository (`git init --bare`);
- git-jekyll: the Jekyll tree, to branch jekyll of the same bare repository;
- www: the site, to a folder (a web root).

Every command runs in a child process under GNU time (see ingest.py's `measured`).
Measured, medians of --rounds rounds (each round a fresh folder):

1. a cold run (empty folder): items/s end to end, and the outputs' own lines;
2. an idle run (nothing new): seconds, no new commit in the bare repository (its
   branches' ids before and after) and no file written in the outputs or targets
   (sizes and modification times);
3. runs with 10 new articles each (the feeds carry 10 more items, one in each of 10
   sources, each feed keeps its newest 100): the size of what each run commits (the
   blobs added or changed on both branches), split into the 10 articles' own files
   (site pages, Jekyll posts, images), the search index (search/, pagefind/ before)
   and everything else (by kind: feeds, listings, neighbours' pages, archive,
   sitemap, status, manifests). Every run is measured, in bytes and in bytes as loose
   git objects (zlib at git's default level for them; what the repository stores for a
   blob is at most that, a pack's deltas are smaller). The verdicts: the median run
   in bytes, and every run as git stores it. Bytes of every run are not judged: ten
   articles with topic tags touch 20-40 tags, and each tag's listing front page and
   feed change whole (about 13 kB a tag), which a run that tags its articles cannot
   avoid; how many runs go over 300 kB in bytes, and the largest, are printed;
4. the bare repository's size after N such runs, with flat = false and with
   flat = true (before and after `git gc --aggressive --prune=now` in it).

Targets (issue 8): cold >= 300 items/s; idle < 2 s, no commit, no file written;
a run with 10 new articles commits at most their own files plus 300 kB (the median run
in bytes, every run as git stores it; the search index's share is printed apart and,
until the search issue lands, not counted).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha1
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import ingest  # noqa: E402  (puts src/ and scripts/ on sys.path)
from feeds_from_posts import rss  # noqa: E402

ROOT = ingest.ROOT
N_FEEDS = 20
PER_FEED = 100  # items per feed: 2,000 in all
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)  # item k is published k hours later
BRANCHES = {"git-site": "main", "git-jekyll": "jekyll"}
OUTPUT_DIRS = ("site", "jekyll", "deploy-site", "deploy-jekyll", "www")


# ---------------------------------------------------------------- feeds and server


class Feeds:
    """The 20 feeds after ``total`` items: item k goes to feed k % 20, and each feed
    carries its newest PER_FEED items (older ones drop out, as on a real feed)."""

    def __init__(self) -> None:
        self.posts = ingest.corpus_posts()
        self.total = 0
        self.files: dict[str, bytes] = {}
        self.tags: dict[str, str] = {}

    def item(self, k: int):  # -> jekyll_import.Post
        post = self.posts[k % len(self.posts)]
        return dataclasses.replace(
            post,
            title=f"{k:05d} {post.title}",
            url=self.link(k),
            published=BASE_TIME + timedelta(hours=k),
        )

    def link(self, k: int) -> str:
        post = self.posts[k % len(self.posts)]
        return f"{post.url.rstrip('/')}/{k:05d}.html"

    def grow(self, total: int) -> None:
        files = {}
        for f in range(N_FEEDS):
            ks = list(range(f, total, N_FEEDS))[-PER_FEED:]
            items = [self.item(k) for k in reversed(ks)]
            files[f"/feed{f}.xml"] = rss(f"源{f}", f"https://example.org/{f}/", items)
        tags = {p: '"' + sha1(b).hexdigest()[:16] + '"' for p, b in files.items()}
        self.files, self.tags, self.total = files, tags, total  # swapped at once


@contextmanager
def serve(feeds: Feeds) -> Iterator[list[tuple[str, str]]]:
    server = ingest._Server(("127.0.0.1", 0), ingest.handler(feeds))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        yield [(f"源{f}", f"http://127.0.0.1:{port}/feed{f}.xml") for f in range(N_FEEDS)]
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- a mirror folder


def toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def make_mirror(folder: Path, urls: list[tuple[str, str]], flat: bool) -> Path:
    """A mirror folder with its config and an empty bare repository; the bare repo."""
    folder.mkdir(parents=True)
    bare = folder / "remote.git"
    git(["init", "--quiet", "--bare", "--initial-branch=main", str(bare)], folder)
    lines = [
        "[archive]",
        'path = "archive.sqlite"',
        "[media]",
        'mode = "hotlink"',
        "[publish.site]",
        'path = "site"',
        'title = "bench"',
        'base_url = "https://example.org/mirror/"',
        "search = true",
        "[publish.jekyll]",
        'path = "jekyll"',
        "layouts = true",
    ]
    for (name, branch), output in zip(BRANCHES.items(), ("site", "jekyll"), strict=True):
        lines += [
            "[[publish.targets]]",
            'kind = "git"',
            f'name = "{name}"',
            f'output = "{output}"',
            f'path = "deploy-{output}"',
            f"remotes = [{toml_str(str(bare))}]",
            f'branch = "{branch}"',
            f"flat = {'true' if flat else 'false'}",
        ]
    lines += ["[[publish.targets]]", 'kind = "folder"', 'name = "www"', 'output = "site"']
    lines += ['path = "www"']
    for name, url in urls:
        lines += ["[[sources]]", f"name = {toml_str(name)}", f"feeds = [{toml_str(url)}]"]
        lines += ['full_text = "feed"']
    (folder / "newsmirror.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return bare


def git(args: list[str], cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def heads(bare: Path) -> dict[str, str]:
    out = git(["for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads"], bare)
    return dict(line.split() for line in out.splitlines())


def tree_state(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file and folder in the outputs and the targets."""
    state = {}
    for name in OUTPUT_DIRS:
        for path in (folder / name).rglob("*"):
            stat = path.stat()
            state[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return state


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mb: float
    report: dict


def newsmirror_run(folder: Path) -> Run:
    """`newsmirror run --json` in ``folder``, timed by GNU time."""
    cmd = [sys.executable, "-m", "newsmirror", "-c", "newsmirror.toml", "run", "--json"]
    with (
        tempfile.NamedTemporaryFile("r") as times,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        started = time.perf_counter()
        proc = subprocess.run(
            [ingest.TIME, "-f", "%e %U %S %M", "-o", times.name, *cmd],
            cwd=folder,
            stdout=out,
            stderr=err,
        )
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode("utf-8", "replace")
        _elapsed, user, system, peak_kb = times.read().split()[-4:]
    if proc.returncode != 0:
        raise SystemExit(f"newsmirror run exited {proc.returncode} in {folder}:\n{errors[-3000:]}")
    return Run(wall, float(user) + float(system), int(peak_kb) / 1024, json.loads(text))


# ---------------------------------------------------------------- commit sizes


def blob_sizes(bare: Path, ids: list[str]) -> list[tuple[int, int]]:
    """Each blob's (size, size as a loose git object: zlib at git's core.looseCompression
    default, 1; the most git stores for it, as a pack's deltas only make it smaller)."""
    if not ids:
        return []
    out = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=bare,
        input="\n".join(ids).encode() + b"\n",
        check=True,
        capture_output=True,
    ).stdout
    sizes, at = [], 0
    for _ in ids:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        body = out[header_end + 1 : header_end + 1 + size]
        loose = zlib.compress(b"blob %d\0" % size + body, 1)
        sizes.append((size, len(loose)))
        at = header_end + 1 + size + 1
    return sizes


def committed(
    bare: Path, before: dict[str, str], after: dict[str, str]
) -> list[tuple[str, int, int]]:
    """(branch/path, size, size as a loose git object) of every blob added or changed on
    each branch."""
    files: list[tuple[str, str]] = []
    for branch, new in after.items():
        old = before.get(branch)
        if old == new:
            continue
        if old is None:
            raw = git(["ls-tree", "-r", "-z", new], bare)
            rows = [r.split("\t", 1) for r in raw.split("\0") if r]
            files += [(f"{branch}/{path}", meta.split()[2]) for meta, path in rows]
            continue
        raw = git(["diff-tree", "-r", "-z", "--no-renames", old, new], bare)
        fields = raw.split("\0")
        for meta, path in zip(fields[0::2], fields[1::2], strict=False):
            parts = meta.split()
            if len(parts) == 5 and parts[4] in ("A", "M"):
                files.append((f"{branch}/{path}", parts[3]))
    sizes = blob_sizes(bare, [blob for _, blob in files])
    return [(name, n, disk) for (name, _), (n, disk) in zip(files, sizes, strict=True)]


def article_page(link: str, published: datetime) -> str:
    digest = sha1(link.encode()).hexdigest()[:12]  # pages.article_path
    return f"main/posts/{published:%Y}/{published:%m}/{digest}.html"


def split_commit(
    files: list[tuple[str, int, int]], feeds: Feeds, new: range, biggest: list[tuple[int, str]]
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Bytes, files and bytes as loose git objects (zlib): the new articles' own
    files, the search index, the rest (whose biggest files are added to ``biggest``)."""
    pages = {article_page(feeds.link(k), BASE_TIME + timedelta(hours=k)) for k in new}
    size = {"articles": 0, "search": 0, "other": 0}
    count = dict.fromkeys(size, 0)
    stored = dict.fromkeys(size, 0)
    others = []
    for name, n, disk in files:
        if name in pages or name.startswith(("jekyll/_posts/", "main/media/", "jekyll/media/")):
            part = "articles"
        elif name.startswith(("main/pagefind/", "main/search/")):
            part = "search"
        else:
            part = "other"
        size[part] += n
        count[part] += 1
        stored[part] += disk
        if part == "other":
            others.append((n, name))
    biggest.extend(sorted(others, reverse=True))
    return size, count, stored


def kind_of(name: str) -> str:
    """What a committed file of "everything else" is, for the breakdown."""
    path = name.split("/", 1)[1]
    if path.endswith(("feed.xml", "rss.xml")):
        return "feeds"
    if path.startswith("posts/"):
        return "other articles' pages (neighbour links)"
    if path.startswith("archive/"):
        return "archive (by month)"
    if path.endswith("index.html") or "/page/" in f"/{path}":
        return "listings"
    if path.startswith("sitemap"):
        return "sitemap"
    if path == ".newsmirror-files":
        return "targets' manifests of placed files"
    if path.startswith("status."):
        return "status page"
    return "other"


def du(path: Path) -> int:
    return int(
        subprocess.run(
            ["du", "-sk", str(path)], capture_output=True, text=True, check=True
        ).stdout.split()[0]
    )


# ---------------------------------------------------------------- the benchmark


def kb(n: float) -> str:
    return f"{n / 1024:.1f} kB"


def verdict(holds: bool) -> str:
    return "holds" if holds else "MISSED"


@dataclass
class Results:
    items: int
    runs_of_ten: int
    cold: list[Run] = dataclasses.field(default_factory=list)
    idle: list[Run] = dataclasses.field(default_factory=list)
    idle_writes: list[str] = dataclasses.field(default_factory=list)  # paths, per round
    idle_commits: int = 0
    tens: dict[bool, list[float]] = dataclasses.field(default_factory=dict)
    # per flat: one Commit per run of ten, in order
    commits: dict[bool, list[Commit]] = dataclasses.field(default_factory=dict)
    sizes: dict[bool, tuple[int, int]] = dataclasses.field(default_factory=dict)

    def median_commit(self, flat: bool) -> Commit:
        """The run whose "everything else" is the median (the lower one of two)."""
        ranked = sorted(self.commits[flat], key=lambda c: c.size["other"])
        return ranked[(len(ranked) - 1) // 2]


@dataclass
class Commit:
    """What one run of ten committed: bytes and files per part, and everything else's
    files (size, branch/path), biggest first."""

    run: int
    size: dict[str, int]
    count: dict[str, int]
    others: list[tuple[int, str]]
    stored: dict[str, int]  # bytes as loose git objects (zlib), per part

    def kinds(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for size, name in self.others:
            out.setdefault(kind_of(name), []).append(size)
        return out


def changed_paths(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> set:
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def cold_and_idle(res: Results, folders: list[Path], bares: list[Path], rounds: int) -> None:
    for r, folder in enumerate(folders):
        run = newsmirror_run(folder)
        if run.report["new"] != res.items:
            raise SystemExit(f"cold run stored {run.report['new']} of {res.items} items")
        if r < rounds:
            res.cold.append(run)
        print(f"cold run {r + 1}: {run.wall:.1f} s", file=sys.stderr)
    for r, folder in enumerate(folders[:rounds]):
        before, state = heads(bares[r]), tree_state(folder)
        run = newsmirror_run(folder)
        if run.report["new"] != 0:
            raise SystemExit(f"the idle run stored {run.report['new']} new items")
        res.idle.append(run)
        res.idle_writes += sorted(changed_paths(state, tree_state(folder)))
        res.idle_commits += heads(bares[r]) != before
        print(f"idle run {r + 1}: {run.wall:.2f} s", file=sys.stderr)


def runs_of_ten(res: Results, feeds: Feeds, folders: list[Path], bares: list[Path]) -> None:
    """Both histories (folder 0: flat = false, folder 1: flat = true) on the same feeds."""
    res.tens = {False: [], True: []}
    for n in range(res.runs_of_ten):
        start = feeds.total
        feeds.grow(start + 10)
        for flat, r in ((False, 0), (True, 1)):
            before = heads(bares[r])
            run = newsmirror_run(folders[r])
            if run.report["new"] != 10:
                raise SystemExit(f"a run of ten stored {run.report['new']} new items")
            res.tens[flat].append(run.wall)
            files = committed(bares[r], before, heads(bares[r]))
            others: list[tuple[int, str]] = []
            size, count, stored = split_commit(files, feeds, range(start, start + 10), others)
            res.commits.setdefault(flat, []).append(Commit(n + 1, size, count, others, stored))
        print(
            f"runs of ten: {n + 1}/{res.runs_of_ten}, everything else "
            f"{kb(res.commits[False][-1].size['other'])}",
            file=sys.stderr,
        )
    for flat, r in ((False, 0), (True, 1)):
        before_gc = du(bares[r])
        git(["gc", "--quiet", "--aggressive", "--prune=now"], bares[r])
        res.sizes[flat] = (before_gc, du(bares[r]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="cold and idle runs (median)")
    parser.add_argument(
        "--runs-of-ten",
        type=int,
        default=100,
        metavar="N",
        help="runs of 10 new articles for the repository's size (default 100)",
    )
    parser.add_argument("--quick", action="store_true", help="--rounds 1 --runs-of-ten 3")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.runs_of_ten = 1, 3
    if args.rounds < 1 or args.runs_of_ten < 1:
        parser.error("--rounds and --runs-of-ten must be at least 1")
    if not Path(ingest.TIME).is_file():
        raise SystemExit("the benchmark measures with GNU time (Debian: apt install time)")
    # As installed by pip (see ingest.py): no module compiled from source on every run.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    feeds = Feeds()
    feeds.grow(N_FEEDS * PER_FEED)
    res = Results(feeds.total, args.runs_of_ten)
    with tempfile.TemporaryDirectory(prefix="nm-run-") as scratch, serve(feeds) as urls:
        # folder 0 keeps flat = false, folder 1 flat = true (a second one even with --rounds 1)
        folders = [Path(scratch) / f"m{r}" for r in range(max(args.rounds, 2))]
        bares = [make_mirror(f, urls, flat=r == 1) for r, f in enumerate(folders)]
        cold_and_idle(res, folders, bares, args.rounds)
        runs_of_ten(res, feeds, folders, bares)
    report(res)


def report(res: Results) -> None:
    med = statistics.median
    cold_s, idle_s = med(r.wall for r in res.cold), med(r.wall for r in res.idle)
    rate = res.items / cold_s
    median = res.median_commit(False)
    size, count = median.size, median.count
    extra = size["other"]
    others = [c.size["other"] for c in res.commits[False]]
    stored = [c.stored["other"] for c in res.commits[False]]
    search = [c.size["search"] for c in res.commits[False]]
    largest = max(res.commits[False], key=lambda c: c.size["other"])
    in_git = [p for p in res.idle_writes if "/.git/" in p or p.endswith("/.git")]
    published = [p for p in res.idle_writes if p not in in_git]
    idle_ok = not res.idle_writes and not res.idle_commits
    rows = [
        ("cold run, s", f"{cold_s:.2f}", ""),
        ("cold run, items/s", f"{rate:.0f}", f">= 300: {verdict(rate >= 300)}"),
        (
            "cold CPU s / peak MB",
            f"{med(r.cpu for r in res.cold):.1f} / {med(r.peak_mb for r in res.cold):.0f}",
            "",
        ),
        ("idle run, s", f"{idle_s:.2f}", f"< 2 s: {verdict(idle_s < 2)}"),
        ("idle: new commits (all rounds)", str(res.idle_commits), ""),
        ("idle: files written, published", str(len(published)), ""),
        ("idle: files written, in .git/", str(len(in_git)), ""),
        ("idle: no commit, no file written", "yes" if idle_ok else "no", verdict(idle_ok)),
        ("10 new: run s (median, N runs)", f"{med(res.tens[False]):.2f}", ""),
        (
            "10 new (median run): articles' own",
            f"{kb(size['articles'])} in {count['articles']}",
            "",
        ),
        (
            "10 new (that run): search index",
            f"{kb(size['search'])} in {count['search']}",
            "apart",
        ),
        (
            "10 new (median run): everything else",
            f"{kb(extra)} in {count['other']}",
            f"<= 300 kB: {verdict(extra <= 300 * 1024)}",
        ),
        ("10 new: everything else, mean", kb(statistics.mean(others)), ""),
        (
            "10 new: runs over 300 kB",
            f"{sum(o > 300 * 1024 for o in others)} of {len(others)}",
            "in bytes: reported",
        ),
        (
            "10 new: everything else, largest",
            f"{kb(largest.size['other'])} (run {largest.run})",
            "",
        ),
        (
            "10 new: search index, median / largest",
            f"{kb(med(search))} / {kb(max(search))}",
            "apart (issue 13)",
        ),
        (
            "10 new: as git stores it (zlib)",
            f"median {kb(med(stored))}, largest {kb(max(stored))}",
            f"every run <= 300 kB: {verdict(max(stored) <= 300 * 1024)}",
        ),
        (
            "10 new, flat=true: all files (median)",
            kb(sum(res.median_commit(True).size.values())),
            "",
        ),
    ]
    for flat in (False, True):
        before, after = res.sizes[flat]
        rows.append(
            (
                f"repo, {res.runs_of_ten} x 10 new, flat={str(flat).lower()}",
                f"{before / 1024:.1f} MB, after gc {after / 1024:.1f} MB",
                "",
            )
        )
    print(
        f"\n`newsmirror run`: {N_FEEDS} feeds, {res.items} items, medians of {len(res.cold)} "
        f"round(s); N = {res.runs_of_ten} runs of 10 new articles"
    )
    for label, value, target in rows:
        print(f"{label:<36}{value:>32}  {target}")
    print("\ncold run's outputs and targets (round 1):")
    for o in res.cold[0].report["outputs"]:
        print(f"  {o['kind']}: {o['summary']}")
    for t in res.cold[0].report["targets"]:
        print(f"  {t['name']}: {t['summary']}")
    if res.idle_writes:
        print("\nidle runs wrote (first 10):", *sorted(set(res.idle_writes))[:10], sep="\n  ")
    print("\n'everything else' of each run of 10 new (flat=false):")
    print("  " + ", ".join(f"{n / 1024:.0f}" for n in others) + " kB")
    print("the same as loose git objects (zlib; the most git stores, before deltas):")
    print("  " + ", ".join(f"{n / 1024:.0f}" for n in stored) + " kB")
    print("the search index's files of each run (bytes):")
    print("  " + ", ".join(f"{n / 1024:.0f}" for n in search) + " kB")
    for title, commit in (("the median run", median), ("the largest run", largest)):
        print(f"\n{title} (run {commit.run}, flat=false): 'everything else' by kind")
        for kind, sizes in sorted(commit.kinds().items(), key=lambda kv: -sum(kv[1])):
            print(f"  {kb(sum(sizes)):>11} in {len(sizes):>3}  {kind}")
        print(f"{title}: biggest files of 'everything else'")
        for n, name in commit.others[:8]:
            print(f"  {kb(n):>11}  {name}")
    small = extra <= 300 * 1024 and max(stored) <= 300 * 1024
    holds = rate >= 300 and idle_s < 2 and idle_ok and small
    print("\nall targets hold" if holds else "\nsome targets MISSED")


if __name__ == "__main__":
    main()
