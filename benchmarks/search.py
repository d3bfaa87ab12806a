"""Search index benchmark (issue 13 goals 1, 3, 4): build time and memory, size, bytes
changed per update, exactness and the cost of a cold query.

    python benchmarks/search.py [--n 10000 100000] [--queries 250] [--increments 5] [--grown]

Per size N: an archive of N synthetic articles, each mixing paragraphs of three real
posts from ../shared/corpus (fixed seed); the site's index built in a fresh child process
(wall time; peak memory of the child and its workers together, sampled from /proc);
index bytes beside the article pages (posts/ of a site built without search); bytes
written by adding 10 articles, several times; and for the queries (drawn from the
articles: 1-8 characters, names, numbers, Latin words, both scripts, two terms):
precision and recall against a brute-force folded substring scan, the count's error,
and the requests and bytes a cold query needs for its first page of 10 results, read
by a Python reader that follows the format's query algorithm.

A site's index is a full build only on its first day: a site that grows by runs of
ten keeps several segments, as many as the merge policy leaves (searchindex.merges).
``--grown`` measures the queries again on an index of the same N articles shaped so:
the segment sizes of the median state of a site grown to about N by runs of ten, its
oldest segment built at once and each newer one added as a run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from newsmirror.htmltext import plain_text  # noqa: E402
from newsmirror.jekyll_import import read_post  # noqa: E402
from newsmirror.models import Entry, FeedState  # noqa: E402
from newsmirror.store import Archive  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "nodebe4-posts"
NAMES = [
    "习近平",
    "拜登",
    "特朗普",
    "普京",
    "毛泽东",
    "邓小平",
    "李克强",
    "刘晓波",
    "蔡英文",
    "胡锦涛",
]
NUMBERS = ["六四", "1989", "2020", "2014", "100", "三", "十八大", "64"]
_PARAS = re.compile(r"\n\s*\n|(?<=</p>)")


def make_archive(path: Path, n: int, start: int = 0, spread_over: int | None = None) -> None:
    """Articles ``start`` to ``start + n``, each of paragraphs of three posts (seeded)."""
    posts = [read_post(p) for p in sorted(CORPUS.glob("*/_posts/*.md"))]
    paras = [[p for p in _PARAS.split(post.content) if p.strip()] for post in posts]
    base = datetime(2019, 1, 1, tzinfo=UTC)
    step = 6 * 365 * 24 * 60 / (spread_over or n)
    with Archive.open(path) as archive:
        for s in range(20):
            archive.ensure_source(f"来源{s}")
        batch: dict[str, list[Entry]] = {}
        for i in range(start, start + n):
            if len(batch) and (i - start) % 2000 == 0:
                _store(archive, batch)  # in batches: memory stays flat at any size
                batch = {}
            rng = random.Random(i)
            picks = rng.sample(range(len(posts)), 3)
            body = []
            for k in picks:
                chosen = paras[k]
                take = max(1, len(chosen) // 3)
                at = rng.randrange(max(1, len(chosen) - take + 1))
                body.extend(chosen[at : at + take])
            title = f"{posts[picks[0]].title} {posts[picks[1]].title[:6]} {i}"
            when = base + timedelta(minutes=step * i)
            entry = Entry(f"https://example.org/{i}", "", title, "", "\n".join(body), when, "")
            batch.setdefault(f"来源{i % 20}", []).append(entry)
        _store(archive, batch)


def _store(archive: Archive, batch: dict[str, list[Entry]]) -> None:
    now = datetime.now(UTC)
    for source, entries in batch.items():
        archive.store_entries(
            source, "bench://feed", entries, state=FeedState(), started=now, now=now
        )


INDEX = """
import sys, json, time
sys.path.insert(0, {src!r})
from pathlib import Path
from newsmirror.store import Archive
from newsmirror.publish import pages, search
from newsmirror.publish.writer import OutputWriter

class Out:
    def __init__(self, root, old):
        self.writer, self.old, self.made = OutputWriter(root), old, {{}}
    def emit(self, path, text, stamp=None):
        data = text.encode() if isinstance(text, str) else text
        self.writer.write(path, data)
        self.made[path] = stamp or str(hash(data))
    def unchanged(self, path, stamp):
        if self.old.get(path) == stamp and self.writer.size(path) is not None:
            self.made[path] = stamp
            return True
        return False
    def record(self, path, stamp, written):  # a file the indexer's workers wrote
        if written:
            self.writer.claim(path)
        self.made[path] = stamp

root, state = Path({out!r}), Path({out!r} + ".state.json")
old = json.loads(state.read_text()) if state.exists() else {{}}
out = Out(root, old)
with Archive.open(Path({archive!r})) as a:
    heads = sorted(a.iter_articles(content=False), key=lambda h: (h.published, h.id))
    entries = pages.unique_paths([pages.entry_of(h) for h in heads])
    docs = [search.SearchDoc(h.id, e.href, e.title, e.source, e.iso, h.timezone, h.version)
            for h, e in zip(heads, entries)]
    m = root / "search" / "manifest.js"
    started = time.perf_counter()
    s = search.update_index(docs, a.contents, out, old, m.read_bytes() if m.exists() else None)
written = sum(out.writer.size(p) or 0 for p in out.writer.written)
removed = 0
for path in set(old) - set(out.made):
    removed += out.writer.remove(path)
state.write_text(json.dumps(out.made))
print(json.dumps({{"seconds": time.perf_counter() - started, "indexed": s.indexed,
                  "written": written, "files": len(out.writer.written), "removed": removed}}))
"""


def tree_rss(pid: int, cpu: dict[int, float] | None = None) -> int:
    """RSS (bytes) of a process and all its descendants; ``cpu`` gets each one's CPU
    seconds so far (user + system), by pid."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            if cpu is not None:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                cpu[p] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return total


def run_index(archive: Path, out: Path) -> tuple[float, float, dict]:
    """Index in a fresh child: wall seconds, peak MB of the child and its workers."""
    code = INDEX.format(src=str(ROOT / "src"), archive=str(archive), out=str(out))
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=stdout, stderr=stderr)
        peak = 0
        cpu: dict[int, float] = {}
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid, cpu))
            time.sleep(0.05)
        wall = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        if proc.returncode:
            raise SystemExit(stderr.read().decode()[-3000:])
        result = json.loads(stdout.read())
        result["cpu"] = sum(cpu.values())  # as last sampled (a little short)
        return wall, peak / 2**20, result


def folder_bytes(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def draw_queries(texts: list[str], count: int, seed: int = 13) -> list[str]:
    """Queries from the articles' own text: substrings of 1-8 characters, Latin words,
    names and numbers, some in traditional script, some of two terms."""
    import opencc

    to_trad = opencc.OpenCC("s2t")
    rng = random.Random(seed)
    out: list[str] = list(NAMES) + list(NUMBERS)
    while len(out) < count:
        text = rng.choice(texts)
        kind = rng.random()
        if kind < 0.12:
            words = re.findall(r"[A-Za-z]{3,}", text)
            if not words:
                continue
            query = rng.choice(words)
        else:
            size = rng.randint(1, 8)
            at = rng.randrange(max(1, len(text) - size))
            query = text[at : at + size].strip()
            if not query or re.search(r"\s", query):
                continue
            if kind > 0.85:
                at = rng.randrange(max(1, len(text) - 3))
                other = text[at : at + rng.randint(2, 3)].strip()
                if other and not re.search(r"\s", other):
                    query = f"{query} {other}"
        if rng.random() < 0.3:
            query = to_trad.convert(query)
        out.append(query)
    return out


def measure_queries(
    site: Path, archive: Path, count: int, rows_file: Path | None = None
) -> dict[str, object]:
    from newsmirror.publish import searchfiles as sf
    from newsmirror.publish import searchindex as si
    from newsmirror.publish.searchread import Reader
    from newsmirror.textsearch import matches, searchable, site_exact, terms

    with Archive.open(archive) as a:
        arts = list(a.iter_articles())
    texts = {x.id: searchable(si.clean(x.title), si.clean(plain_text(x.content))) for x in arts}
    raw = [si.clean(x.title) + "\n" + si.clean(plain_text(x.content)) for x in arts]
    state = json.loads(Path(str(site) + ".state.json").read_text())
    doc_of = {
        int(item.split(":")[1]): int(item.split(":")[0])
        for stamp in state.values()
        if stamp.startswith("docs ")
        for item in stamp.split()[1:]
    }
    folder = site / "search"
    kinds: dict[str, list[int]] = {}  # kind of file -> bytes per query
    counts: dict[str, list[int]] = {}  # kind of file -> requests per query

    def load(name: str) -> bytes | None:
        path = folder / f"{name}.js"
        data = path.read_bytes() if path.exists() else None
        kind = "doc files" if name.startswith("d/") else "shards" if "/" in name else name
        kinds.setdefault(kind, [0] * len(queries))[len(rows)] += len(data or b"")
        counts.setdefault(kind, [0] * len(queries))[len(rows)] += 1
        return data

    def read(name: str) -> bytes | None:
        path = folder / f"{name}.js"
        return path.read_bytes() if path.exists() else None

    queries = draw_queries(raw, count)
    del raw, arts  # memory: at 100,000 articles the texts are large
    rows = []
    for query in queries:
        words = terms(query)
        truth = {doc_of[i] for i, t in texts.items() if matches(t, words)}
        reader = Reader(load)
        reader.get("fold")
        result = reader.search(query)
        # Recall: every key's candidates, read apart (the page reads a long term's
        # other keys only once a candidate is false: not counted as its cost).
        found, _ = Reader(read).candidates(words)
        shown_ok = sum(1 for d in result.shown if d in truth)
        # What the page can show once the first page is read: the candidates times the
        # share of those it checked that held the query.
        checked = result.order.index(result.shown[-1]) + 1 if result.shown else len(result.order)
        sampled = result.candidates * len(result.shown) / checked if checked else 0
        rows.append(
            {
                "q": query,
                "truth": len(truth),
                "count": result.candidates,
                "sampled": sampled,
                "shown": result.count_text(),
                "exact": site_exact(words),
                "precision": shown_ok / len(result.shown) if result.shown else 1.0,
                "recall": len(truth & set(found)) / len(truth) if truth else 1.0,
                "requests": reader.requests,
                "bytes": reader.bytes,
                "short_page": len(result.shown) < min(10, len(truth)),
                "stopped": result.more and len(result.shown) < 10,
            }
        )
    if rows_file is not None:
        rows_file.write_text(json.dumps(rows, ensure_ascii=False, indent=0))
    out = summarise(rows)
    manifest = si.parse_manifest(sf.read_js((folder / "manifest.js").read_bytes())[1])
    out["segments"] = [s.docs for s in manifest.segments]
    out["kB by kind, median / p90"] = ", ".join(
        f"{k} {statistics.median(v) / 1000:.0f} / {sorted(v)[int(0.9 * len(v))] / 1000:.0f}"
        for k, v in kinds.items()
    )
    out["requests by kind, median / p90 / max"] = ", ".join(
        f"{k} {statistics.median(v):.0f} / {sorted(v)[int(0.9 * len(v))]} / {max(v)}"
        for k, v in counts.items()
    )
    return out


def summarise(rows: list[dict]) -> dict[str, object]:
    def pct(values: list[float], p: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(p * len(values)))]

    exact = [r for r in rows if r["exact"]]
    estimated = [r for r in rows if not r["exact"] and r["truth"]]
    errors = [abs(r["count"] - r["truth"]) / r["truth"] for r in estimated]
    sampled = [abs(r["sampled"] - r["truth"]) / r["truth"] for r in estimated]
    said = [_said(r["shown"]) for r in estimated]
    said_errors = [
        abs(n - r["truth"]) / r["truth"]
        for r, (kind, n) in zip(estimated, said, strict=True)
        if kind != "withheld"
    ]
    wrong_said = [
        r["q"]
        for r, (kind, n) in zip(estimated, said, strict=True)
        if kind != "withheld" and abs(n - r["truth"]) > 0.05 * r["truth"]
    ]
    requests = [r["requests"] for r in rows]
    sizes = [r["bytes"] / 1000 for r in rows]
    worst = max(rows, key=lambda r: r["bytes"])
    return {
        "queries": len(rows),
        "with results": sum(1 for r in rows if r["truth"]),
        "precision (min)": min(r["precision"] for r in rows),
        "recall (min)": min(r["recall"] for r in rows),
        "recall (mean)": statistics.mean(r["recall"] for r in rows),
        "exact counts wrong": sum(1 for r in exact if r["count"] != r["truth"]),
        "estimate error median / p90 / max": (
            f"{pct(errors, 0.5):.1%} / {pct(errors, 0.9):.1%} / {max(errors):.1%}"
            if errors
            else "-"
        ),
        "candidate counts within 5%": f"{sum(e <= 0.05 for e in errors)}/{len(errors)}",
        "page's count after page 1 (约 N or exact) within 5%": (
            f"{sum(e <= 0.05 for e in said_errors)}/{len(said_errors)}; total withheld "
            f"(已找到 N 篇（总数待确认）): {sum(k == 'withheld' for k, _ in said)}"
            + (f"; off by more: {wrong_said}" if wrong_said else "")
        ),
        "estimate after page 1 (candidates x hit rate) within 5%": (
            f"{sum(e <= 0.05 for e in sampled)}/{len(sampled)}; median error "
            f"{pct(sampled, 0.5):.1%}"
            if sampled
            else "-"
        ),
        "first page short of 10": sum(r["short_page"] for r in rows),
        "of those, stopped after searchread.MISSES false candidates (继续查找)": sum(
            r["stopped"] for r in rows
        ),
        "requests median / p90 / max": (
            f"{pct(requests, 0.5)} / {pct(requests, 0.9)} / {max(requests)}"
        ),
        "kB median / p90 / max": (
            f"{pct(sizes, 0.5):.0f} / {pct(sizes, 0.9):.0f} / {max(sizes):.0f}"
        ),
        "queries within 300 kB and 30 requests": sum(
            1 for r in rows if r["bytes"] <= 300_000 and r["requests"] <= 30
        ),
        "costliest query": (
            f"{worst['q']!r}: {worst['bytes'] / 1000:.0f} kB, {worst['requests']} requests"
        ),
    }


def _said(text: str) -> tuple[str, int]:
    """What kind of count the page shows (exact, estimate, withheld) and its number."""
    if text == "没有找到":
        return "exact", 0
    if text.startswith("还没有找到"):  # the page stopped before it found one
        return "withheld", 0
    kind = "estimate" if text.startswith("约") else "withheld" if "待确认" in text else "exact"
    return kind, int(re.findall(r"\d+", text)[0])


def pages_bytes(archive: Path, out: Path) -> int:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'src')!r})\n"
        "from pathlib import Path\nfrom newsmirror.store import Archive\n"
        "from newsmirror.publish.site import SiteOptions, build_site\n"
        f"with Archive.open(Path({str(archive)!r})) as a:\n"
        f"    build_site(a, Path({str(out)!r}), SiteOptions(search=False))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    return folder_bytes(out / "posts")[1]


def bench(
    n: int, queries: int, increments: int, keep: Path | None = None, rows: Path | None = None
) -> None:
    with tempfile.TemporaryDirectory(prefix="nm-bsearch-") as tmp:
        work = Path(tmp) if keep is None else keep / str(n)
        work.mkdir(parents=True, exist_ok=True)
        archive = work / "archive.sqlite"
        t = time.perf_counter()
        make_archive(archive, n)
        print(f"\nN = {n}: archive made in {time.perf_counter() - t:.0f} s", flush=True)
        site = work / "site"
        wall, peak, full = run_index(archive, site)
        files, index = folder_bytes(site / "search")
        _, docs = folder_bytes(site / "search" / "d")
        print(
            f"full index: {full['seconds']:.1f} s in the indexer ({wall:.1f} s wall), "
            f"peak {peak:.0f} MB (child + workers), CPU {full['cpu']:.0f} s (machine load "
            f"{os.getloadavg()[0]:.1f})",
            flush=True,
        )
        posts = pages_bytes(archive, work / "pages")
        print(
            f"index {index / 1e6:.1f} MB in {files} files (doc files {docs / 1e6:.1f} MB, "
            f"postings {(index - docs) / 1e6:.1f} MB); article pages {posts / 1e6:.1f} MB: "
            f"ratio {index / posts:.2f}",
            flush=True,
        )
        changed = []
        for k in range(increments):
            make_archive(archive, 10, start=n + 10 * k, spread_over=n)
            _, _, inc = run_index(archive, site)
            changed.append(inc["written"])
            print(
                f"  +10 articles: {inc['written'] / 1000:.0f} kB in {inc['files']} files written, "
                f"{inc['removed']} removed, {inc['seconds']:.2f} s",
                flush=True,
            )
        print(
            f"+10 articles: median {statistics.median(changed) / 1000:.0f} kB, "
            f"worst {max(changed) / 1000:.0f} kB",
            flush=True,
        )
        t = time.perf_counter()
        result = measure_queries(site, archive, queries, rows and rows.with_suffix(f".{n}.json"))
        print(f"queries ({time.perf_counter() - t:.0f} s):")
        for key, value in result.items():
            print(f"  {key}: {value}")


def grown_shape(n: int) -> tuple[list[int], dict[str, int]]:
    """The segments (doc counts, oldest first) of the index of a site that grew to about
    ``n`` articles by runs of ten, as the merge policy (searchindex.merges) leaves them:
    the state of median segment count among the states between 0.9 n and 1.1 n articles,
    its oldest segment resized so that the docs add up to ``n``; and the count's median,
    p90 and largest over those states."""
    from newsmirror.publish import searchindex as si

    sizes: list[int] = []
    states = []
    while sum(sizes) < 1.1 * n:
        sizes.append(10)
        for count in si.merges(sizes):
            sizes[-count:] = [sum(sizes[-count:])]
        if sum(sizes) >= 0.9 * n:
            states.append(list(sizes))
    counts = sorted(len(s) for s in states)
    median = statistics.median_low(counts)
    shape = next(s for s in states if len(s) == median)
    shape[0] = n - sum(shape[1:])
    spread = {"median": median, "p90": counts[int(0.9 * len(counts))], "max": counts[-1]}
    return shape, spread


def grown(n: int, queries: int, keep: Path | None = None, rows: Path | None = None) -> None:
    """The query figures on an index of ``n`` articles shaped as a grown site's
    (grown_shape): the oldest segment built at once, each newer one added as a run."""
    shape, spread = grown_shape(n)
    print(
        f"\nN = {n}, grown by runs of ten: segments per state median {spread['median']}, "
        f"p90 {spread['p90']}, max {spread['max']}; measured at {shape}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="nm-bsearch-") as tmp:
        work = Path(tmp) if keep is None else keep / f"{n}-grown"
        work.mkdir(parents=True, exist_ok=True)
        archive, site = work / "archive.sqlite", work / "site"
        made = 0
        for size in shape:
            make_archive(archive, size, start=made, spread_over=n)
            made += size
            _, _, result = run_index(archive, site)
        t = time.perf_counter()
        suffix = f".{n}-grown.json"
        result = measure_queries(site, archive, queries, rows and rows.with_suffix(suffix))
        print(f"queries ({time.perf_counter() - t:.0f} s):")
        for key, value in result.items():
            print(f"  {key}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10000])
    parser.add_argument("--queries", type=int, default=250)
    parser.add_argument("--increments", type=int, default=5)
    parser.add_argument(
        "--keep", type=Path, help="work in KEEP/N and leave the archive, index and pages there"
    )
    parser.add_argument("--rows", type=Path, help="write each query's figures to ROWS.<N>.json")
    parser.add_argument(
        "--grown",
        action="store_true",
        help="also measure the queries on an index shaped as that of a site grown by runs of ten",
    )
    args = parser.parse_args()
    for n in args.n:
        bench(n, args.queries, args.increments, args.keep, args.rows)
        if args.grown:
            grown(n, args.queries, args.keep, args.rows)
    print(
        "\ntargets: 100,000 articles indexed in <= 60 s, <= 1 GB; +10 articles <= 300 kB; "
        "index <= article pages; precision 1.0, recall >= 0.99, estimates within 5%; "
        "a cold query <= 300 kB in <= 30 requests"
    )


if __name__ == "__main__":
    main()
