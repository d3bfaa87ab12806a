"""Ingest benchmark: 20 local feeds, 2,000 full-text items, cold run then unchanged run.

    python benchmarks/ingest.py [--items 2000] [--feeds 20] [--repeat 3]

Builds the feeds from the real posts in ../shared/corpus (each item a real
article body with a unique title and link), serves them on 127.0.0.1 with
ETag/304 support, and runs `newsmirror fetch` + `newsmirror export jekyll` in a
child process (so its peak memory is measured alone). Prints items per second,
peak RSS, and the time of a second run with nothing new (which must write no
file). Also times the feed parsers alone on the same feeds.

The archive's full-text index is brought up to date on demand (by `newsmirror
search`), not during fetch; its catch-up time for all items is printed apart.

Reference (issue 2, measured on this kind of machine with such a feed set): the
old mirror's perform.js writes 387 posts/s cold and takes 2.2 s for a run with
nothing new.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "scripts"))

from feeds_from_posts import rss  # noqa: E402

from newsmirror.demo.server import serve_folder  # noqa: E402
from newsmirror.jekyll_import import read_post  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "nodebe4-posts"
REFERENCE = {"cold items/s": 387.0, "unchanged run s": 2.2}


def build_feeds(folder: Path, n_items: int, n_feeds: int) -> int:
    posts = [read_post(p) for p in sorted(CORPUS.glob("*/_posts/*.md"))]
    per_feed = n_items // n_feeds
    total = 0
    for f in range(n_feeds):
        items = []
        for i in range(per_feed):
            k = f * per_feed + i
            post = posts[k % len(posts)]
            items.append(
                post.__class__(
                    **{
                        **post.__dict__,
                        "title": f"{post.title} ({k})",
                        "url": f"{post.url.rstrip('/')}/{k}",
                        "author": post.author,
                    }
                )
            )
        data = rss(f"源{f}", f"https://example.org/{f}/", items)
        (folder / f"feed{f}.xml").write_bytes(data)
        total += len(data)
    return total


def write_config(folder: Path, base: str, n_feeds: int) -> Path:
    lines = [
        "[archive]",
        'path = "archive.sqlite"',
        "[fetch]",
        "retries = 0",
        "concurrency = 8",
        "per_host = 8",
        # Like perform.js, take the items as the feeds give them: their pages and images
        # are on hosts this machine cannot reach (full_text = "feed", hotlinked images).
        "[media]",
        'mode = "hotlink"',
    ]
    for f in range(n_feeds):
        lines += [
            "[[sources]]",
            f'name = "源{f}"',
            f'feeds = ["{base}/feed{f}.xml"]',
            'full_text = "feed"',
        ]
    path = folder / "newsmirror.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_measured(args: list[str]) -> tuple[float, float, str]:
    """Run newsmirror in a child; wall seconds and its own peak RSS (MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "newsmirror", *args], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"newsmirror {' '.join(args)} failed:\n{result.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) / 1024, result.stdout


def snapshot(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def one_round(feeds: Path, n_items: int, n_feeds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, serve_folder(feeds) as base:
        work = Path(tmp)
        config = write_config(work, base, n_feeds)
        out = work / "site"
        t_fetch, peak_fetch, fetch_out = run_measured(["-c", str(config), "fetch"])
        t_export, peak_export, _ = run_measured(["-c", str(config), "export", "jekyll", str(out)])
        posts = len(list((out / "_posts").iterdir()))
        if posts != n_items or f"{n_items} new" not in fetch_out:
            raise SystemExit(f"expected {n_items} posts, got {posts}: {fetch_out}")
        t_index, _, _ = run_measured(["-c", str(config), "search", "中国"])
        before = snapshot(out / "_posts")
        t2_fetch, _, out2 = run_measured(["-c", str(config), "fetch"])
        t2_export, _, exp2 = run_measured(["-c", str(config), "export", "jekyll", str(out)])
        if "20 not modified" not in out2 and f"{n_feeds} not modified" not in out2:
            raise SystemExit(f"the unchanged fetch was not 'not modified': {out2}")
        if snapshot(out / "_posts") != before or " 0 written" not in exp2:
            raise SystemExit("the unchanged run wrote files")
        return {
            "cold s": t_fetch + t_export,
            "cold items/s": n_items / (t_fetch + t_export),
            "peak MB": max(peak_fetch, peak_export),
            "unchanged run s": t2_fetch + t2_export,
            "search index s": t_index,
        }


def time_parsers(feeds: Path) -> dict[str, float]:
    import feedparser

    from newsmirror.parse import parse_feed

    bodies = [p.read_bytes() for p in sorted(feeds.glob("*.xml"))]
    out = {}
    started = time.perf_counter()
    n = sum(len(parse_feed(b, url="https://e.org/").entries) for b in bodies)
    out["newsmirror parse_feed items/s"] = n / (time.perf_counter() - started)
    started = time.perf_counter()
    n = sum(
        len(feedparser.parse(b, sanitize_html=False, resolve_relative_uris=False).entries)
        for b in bodies
    )
    out["feedparser (no sanitiser) items/s"] = n / (time.perf_counter() - started)
    started = time.perf_counter()
    n = sum(len(feedparser.parse(b, sanitize_html=True).entries) for b in bodies)
    out["feedparser (sanitiser on) items/s"] = n / (time.perf_counter() - started)
    for name in ("fastfeedparser", "feedparser_rs"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        started = time.perf_counter()
        n = sum(len(module.parse(b).entries) for b in bodies)
        out[f"{name} items/s"] = n / (time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        feeds = Path(tmp)
        size = build_feeds(feeds, args.items, args.feeds)
        print(f"{args.feeds} feeds, {args.items} items, {size / 1e6:.1f} MB of feed XML")
        rounds = [one_round(feeds, args.items, args.feeds) for _ in range(args.repeat)]
        print(f"\nnewsmirror fetch + export jekyll, median of {args.repeat} runs:")
        print(f"{'figure':<22}{'newsmirror':>12}{'perform.js':>12}{'ratio':>8}{'target':>10}")
        targets = {
            "cold items/s": ">= 500",
            "unchanged run s": "< 1",
            "peak MB": "< 250",
            "cold s": "",
            "search index s": "",
        }
        for key in ("cold s", "cold items/s", "unchanged run s", "peak MB", "search index s"):
            value = statistics.median(r[key] for r in rounds)
            ref = REFERENCE.get(key)
            ratio = ""
            if ref:
                ratio = f"{value / ref:.2f}x" if "items" in key else f"{ref / value:.2f}x"
            print(
                f"{key:<22}{value:>12.2f}{(f'{ref:.1f}' if ref else '-'):>12}{ratio:>8}"
                f"{targets[key]:>10}"
            )
        print("\nparsers alone on the same feeds (one run):")
        for key, value in time_parsers(feeds).items():
            print(f"  {key:<36}{value:>10.0f}")


if __name__ == "__main__":
    main()
