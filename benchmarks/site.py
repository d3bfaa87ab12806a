"""Static-site benchmark: newsmirror build beside Hugo and Jekyll on the same posts.

    python benchmarks/site.py [--n 10000] [--jekyll-n 2000] [--no-hugo] [--no-jekyll]
    python benchmarks/site.py --weight-only [--n 500]

Makes an archive of N articles from the real posts in ../shared/corpus (titles,
dates over six years and 20 sources varied), then times, each in a child
process so that its peak memory is its own:
  * newsmirror build: a full build, then an incremental build after 100 new
    articles; the Pagefind search index is timed apart;
  * Hugo (Debian hugo) on the same posts exported as Markdown, minimal layouts;
  * Jekyll (Debian jekyll 4.3) on the same posts with `export jekyll --site`, at
    --jekyll-n articles only (it is slow).
References measured here for 10,000 posts: Hugo 9.3 s and 675 MB; Jekyll 402 s.
Then the page weight of the front page and an article page: the HTML, stylesheets and
scripts a first visit loads, each gzip-compressed as a web server sends it (target: the
front page at most 30 kB).
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from newsmirror.jekyll_import import read_post  # noqa: E402
from newsmirror.models import Entry, FeedState  # noqa: E402
from newsmirror.store import Archive  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "nodebe4-posts"
# Like the newsmirror site: a page per post, paginated lists, a page and feed per
# category (source) and tag, RSS, sitemap.
HUGO_CONFIG = """baseURL = "http://example.org/"
title = "bench"
paginate = 50
[taxonomies]
category = "categories"
tag = "tags"
[markup.goldmark.renderer]
unsafe = true
"""
HUGO_SINGLE = (
    "<!DOCTYPE html><html><head><title>{{ .Title }}</title></head><body>"
    "<h1>{{ .Title }}</h1>{{ .Content }}</body></html>"
)
HUGO_LIST = (
    "<!DOCTYPE html><html><head><title>{{ .Title }}</title></head><body><ul>"
    '{{ range .Paginator.Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a>'
    "</li>{{ end }}</ul></body></html>"
)


def make_archive(path: Path, n: int, start: int = 0, spread_over: int | None = None) -> None:
    """Articles ``start`` to ``start + n``; ``spread_over`` articles fill six years."""
    posts = [read_post(p) for p in sorted(CORPUS.glob("*/_posts/*.md"))]
    base = datetime(2019, 1, 1, tzinfo=UTC)
    step = 6 * 365 * 24 * 60 / (spread_over or n)  # minutes between two articles
    with Archive.open(path) as archive:
        for s in range(20):
            archive.ensure_source(f"来源{s}")
        batch: dict[str, list[Entry]] = {}
        for i in range(start, start + n):
            post = posts[i % len(posts)]
            when = base + timedelta(minutes=step * i)
            entry = Entry(
                f"https://example.org/{i}/{post.url[-40:]}",
                "",
                f"{post.title} 第{i}号",
                post.author,
                post.content,
                when,
                "",
            )
            batch.setdefault(f"来源{i % 20}", []).append(entry)
        now = datetime.now(UTC)
        for source, entries in batch.items():
            archive.store_entries(
                source, "bench://feed", entries, state=FeedState(), started=now, now=now
            )


def child(code: str) -> tuple[float, float, str]:
    """Run Python code in a child; wall seconds, its peak RSS (MB), its stdout."""
    return run([sys.executable, "-c", code])


def run(command: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """Run a command; wall seconds, peak RSS (MB) of it and its children, its stdout."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{command[0]} failed: {err.read().decode()[-2000:]}")
        return elapsed, usage.ru_maxrss / 1024, out.read().decode()


BUILD = """
import sys, time, json
sys.path.insert(0, {src!r})
from pathlib import Path
from newsmirror.store import Archive
from newsmirror.publish.site import SiteOptions, build_site
with Archive.open(Path({archive!r})) as a:
    s = build_site(a, Path({out!r}), SiteOptions(search={search!r}))
print(json.dumps({{"seconds": s.seconds, "search": s.search_seconds, "written": s.written,
                  "rendered": s.rendered_articles, "files": s.pages}}))
"""


def newsmirror_build(archive: Path, out: Path, search: bool) -> tuple[float, float, dict]:
    import json

    wall, peak, stdout = child(
        BUILD.format(src=str(ROOT / "src"), archive=str(archive), out=str(out), search=search)
    )
    return wall, peak, json.loads(stdout)


def export_posts(archive: Path, out: Path, site: bool) -> None:
    args = [
        sys.executable,
        "-m",
        "newsmirror",
        "--archive",
        str(archive),
        "export",
        "jekyll",
        str(out),
    ] + (["--site"] if site else [])
    run(args)


def hugo(archive: Path, work: Path) -> tuple[float, float]:
    tree = work / "jk"
    export_posts(archive, tree, site=False)
    site = work / "hugo"
    (site / "content" / "posts").mkdir(parents=True)
    (site / "layouts" / "_default").mkdir(parents=True)
    (site / "config.toml").write_text(HUGO_CONFIG)
    (site / "layouts" / "_default" / "single.html").write_text(HUGO_SINGLE)
    (site / "layouts" / "_default" / "list.html").write_text(HUGO_LIST)
    (site / "layouts" / "index.html").write_text(HUGO_LIST)
    for post in (tree / "_posts").iterdir():
        shutil.copy(post, site / "content" / "posts" / post.name)
    wall, peak, _ = run(["hugo", "--quiet", "-s", str(site), "-d", str(work / "hugo-out")])
    return wall, peak


def jekyll(archive: Path, work: Path) -> tuple[float, float]:
    tree = work / "jekyll"
    export_posts(archive, tree, site=True)
    wall, peak, _ = run(["jekyll", "build", "-q", "-s", str(tree), "-d", str(tree / "_site")])
    return wall, peak


_LOADS = re.compile(
    r'<link rel="(?:stylesheet|preload|modulepreload)"[^>]*?href="([^"]+)"'
    r'|<script[^>]*?src="([^"]+)"'
)


def page_weight(site: Path, page: str) -> tuple[int, int]:
    """(bytes, gzip bytes) of ``page`` and the stylesheets and scripts it loads at once
    (not images, not scripts a page loads only when the reader uses them)."""
    from urllib.parse import unquote

    path = site / page
    files = [path]
    for css, js in _LOADS.findall(path.read_text(encoding="utf-8")):
        files.append((path.parent / unquote(css or js)).resolve())
    raw = sum(len(f.read_bytes()) for f in files)
    packed = sum(len(gzip.compress(f.read_bytes(), 6)) for f in files)
    return raw, packed


def print_weights(site: Path) -> None:
    article = next(site.glob("posts/*/*/*.html")).relative_to(site).as_posix()
    for name, page in (("front page", "index.html"), ("article page", article)):
        raw, packed = page_weight(site, page)
        print(f"page weight, {name}: {packed / 1000:.1f} kB gzip ({raw / 1000:.1f} kB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--jekyll-n", type=int, default=2000)
    parser.add_argument("--no-hugo", action="store_true")
    parser.add_argument("--no-jekyll", action="store_true")
    parser.add_argument("--no-search", action="store_true", help="Skip Pagefind (for large N).")
    parser.add_argument("--weight-only", action="store_true", help="Only the page weights.")
    args = parser.parse_args()
    if args.weight_only:
        with tempfile.TemporaryDirectory(prefix="nm-weight-") as tmp:
            make_archive(Path(tmp) / "archive.sqlite", args.n)
            newsmirror_build(Path(tmp) / "archive.sqlite", Path(tmp) / "public", search=False)
            print_weights(Path(tmp) / "public")
        return
    with tempfile.TemporaryDirectory(prefix="nm-site-") as tmp:
        work = Path(tmp)
        archive = work / "archive.sqlite"
        make_archive(archive, args.n)
        out = work / "public"
        rows = []
        _, peak, alone = newsmirror_build(archive, work / "memory", search=False)
        rows.append(("newsmirror full build, pages only, another folder", alone["seconds"], peak))
        _, _, full = newsmirror_build(archive, out, search=not args.no_search)
        rows.append(("newsmirror full build (pages)", full["seconds"] - full["search"], None))
        if not args.no_search:
            rows.append(("newsmirror search index (Pagefind)", full["search"], None))
        make_archive(archive, 100, start=args.n, spread_over=args.n)
        _wall, peak, inc = newsmirror_build(archive, out, search=not args.no_search)
        rows.append(
            (
                f"newsmirror +100 articles (pages; {inc['written']} files written, "
                f"{inc['rendered']} article pages rendered)",
                inc["seconds"] - inc["search"],
                None,
            )
        )
        if not args.no_search:
            rows.append(("newsmirror +100 articles search index", inc["search"], None))
        if not args.no_hugo and shutil.which("hugo"):
            hugo_wall, hugo_peak = hugo(archive, work)
            rows.append((f"Hugo {args.n + 100} posts", hugo_wall, hugo_peak))
        print(f"N = {args.n} articles (+100); {full['files']} files in the site\n")
        print(f"{'build':<78}{'seconds':>9}{'peak MB':>9}")
        for name, seconds, mb in rows:
            print(f"{name:<78}{seconds:>9.2f}{(f'{mb:.0f}' if mb else '-'):>9}")
        print_weights(out)
    if not args.no_jekyll and shutil.which("jekyll") and args.jekyll_n:
        with tempfile.TemporaryDirectory(prefix="nm-jekyll-") as tmp:
            work = Path(tmp)
            archive = work / "archive.sqlite"
            make_archive(archive, args.jekyll_n)
            _, _, ours = newsmirror_build(archive, work / "public", search=False)
            j_wall, j_peak = jekyll(archive, work)
            ratio = j_wall / ours["seconds"]
            print(
                f"\nN = {args.jekyll_n}: newsmirror build {ours['seconds']:.2f} s; "
                f"Jekyll {j_wall:.2f} s, peak {j_peak:.0f} MB; ratio {ratio:.0f}x"
            )
    print(
        "targets: 10,000 full build <= Hugo and < 10 s; 100,000 < 100 s, < 1 GB; "
        "+100 incremental < 2 s"
    )


if __name__ == "__main__":
    main()
