"""Extraction benchmark on ../shared/corpus/zh-extraction (35 Chinese pages with gold text).

    python benchmarks/extraction.py [--workers 2]

Character-level precision / recall / F1 (bags of characters, white space
ignored) of the extracted text against cleaned/, per page and on average, for
newsmirror's extractor beside plain trafilatura with default settings (given
the page decoded by charset-normalizer, as a user of trafilatura would).
Also checks that every page decodes without mojibake, and times extraction
with one process per core (warm workers, median of 5 passes), beside plain
trafilatura timed the same way in the same run (this machine is noisy: compare
the ratio).

Then dates and authors: the publication date (same calendar day, Asia/Shanghai, as
date/ID.txt, on the pages that give a full day) and the author (the same names as
author/ID.txt, separators ignored) from ``extract_article(..., metadata=True)`` beside
plain ``trafilatura.extract_metadata``; every author answer is listed, and the authors
given on ../shared/corpus/readability-pages too (none may be a URL, a site or an id).
Extraction with metadata is timed beside trafilatura's ``bare_extraction`` with its
metadata, in the same run.
"""

from __future__ import annotations

import argparse
import collections
import re
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import trafilatura  # noqa: E402
from charset_normalizer import from_bytes  # noqa: E402

from newsmirror.decode import decode_html  # noqa: E402
from newsmirror.extract import extract_article  # noqa: E402
from newsmirror.pagemeta import first_date, parse_declared  # noqa: E402
from newsmirror.timeutil import DEFAULT_ZONE, in_zone  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "zh-extraction"
READABILITY = ROOT.parent / "shared" / "corpus" / "readability-pages"
_WS = re.compile(r"\s+")


def scores(predicted: str, gold: str) -> tuple[float, float, float]:
    pred = collections.Counter(_WS.sub("", predicted or ""))
    ref = collections.Counter(_WS.sub("", gold))
    overlap = sum((pred & ref).values())
    p = overlap / max(1, sum(pred.values()))
    r = overlap / max(1, sum(ref.values()))
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def ours(path: Path) -> str:
    text, _ = decode_html(path.read_bytes())
    try:
        return extract_article(text, f"https://example.org/{path.stem}").text
    except Exception:  # a page where nothing is found scores 0
        return ""


def ours_meta(path: Path) -> tuple[str, str]:
    text, _ = decode_html(path.read_bytes())
    try:
        found = extract_article(text, f"https://example.org/{path.stem}", metadata=True)
    except Exception:
        return "", ""
    return found.date, found.author


def plain_meta(path: Path) -> tuple[str, str]:
    best = from_bytes(path.read_bytes()).best()
    found = trafilatura.bare_extraction(str(best) if best else "", with_metadata=True)
    if not found:
        return "", ""
    return found.date or "", found.author or ""


def _day(text: str) -> tuple[int, int, int] | None:
    found = parse_declared(text, DEFAULT_ZONE) if text else None
    if found is None:
        return None
    local = in_zone(found.moment, DEFAULT_ZONE)
    return local.year, local.month, local.day


def _names(text: str) -> str:
    return re.sub(r"[\s、，,;；]+", "", text)


def metadata_report(paths: list[Path], workers: int) -> None:
    """Date and author accuracy against date/ and author/, ours beside trafilatura's."""
    ours_out, ours_s = timed(ours_meta, paths, workers)
    plain_out, plain_s = timed(plain_meta, paths, workers)
    dated = authored = 0
    right = {"ours date": 0, "plain date": 0, "ours author": 0, "plain author": 0}
    print(f"\n{'page':<10}{'gold date':<22}{'ours':<12}{'plain':<12}| gold author / ours / plain")
    for path, (o_date, o_author), (p_date, p_author) in zip(
        paths, ours_out, plain_out, strict=True
    ):
        gold_date = (CORPUS / "date" / f"{path.stem}.txt").read_text(encoding="utf-8").strip()
        gold_author = (CORPUS / "author" / f"{path.stem}.txt").read_text(encoding="utf-8")
        gold_author = gold_author.strip()
        gold = first_date(gold_date)  # a full day only (not "2018" or "1998-3")
        if gold is not None:
            dated += 1
            want = _day(gold_date)
            right["ours date"] += _day(o_date) == want
            right["plain date"] += _day(p_date) == want
        if gold_author not in ("", "UNKNOWN"):
            authored += 1
            right["ours author"] += _names(o_author) == _names(gold_author)
            right["plain author"] += _names(p_author) == _names(gold_author)
        print(
            f"{path.stem[:8]:<10}{gold_date[:20]:<22}{_day(o_date) or '-'!s:<12}"
            f"{_day(p_date) or '-'!s:<12}| {gold_author} / {o_author or '-'} / {p_author or '-'}"
        )
    print(
        f"dates right: newsmirror {right['ours date']}/{dated}, plain trafilatura "
        f"{right['plain date']}/{dated}; authors right: newsmirror {right['ours author']}/"
        f"{authored}, plain trafilatura {right['plain author']}/{authored}"
    )
    print(
        f"with metadata: newsmirror {len(paths) / ours_s:.1f} pages/s, trafilatura "
        f"bare_extraction with metadata {len(paths) / plain_s:.1f} pages/s "
        f"(ratio {plain_s / ours_s:.2f}, {workers} processes)"
    )
    print("targets: dates >= 80%, authors >= 60%")


def readability_authors() -> None:
    """The authors given on the readability pages (never a URL, a site or an id)."""
    pages = sorted(READABILITY.glob("*/source.html"))
    if not pages:
        return
    print(f"\nauthors on {READABILITY.name} ({len(pages)} pages):")
    for source in pages:
        text, _ = decode_html(source.read_bytes())
        try:
            found = extract_article(
                text, f"https://example.org/{source.parent.name}/", metadata=True
            )
        except Exception:
            continue
        if found.author:
            print(f"  {source.parent.name:<32}{found.author}")


def plain(path: Path) -> str:
    best = from_bytes(path.read_bytes()).best()
    return trafilatura.extract(str(best) if best else "") or ""


def mojibake(path: Path) -> bool:
    text, _ = decode_html(path.read_bytes())
    return text.count("\ufffd") > max(2, len(text) // 2000)


def timed(fn, paths: list[Path], workers: int, rounds: int = 5):  # type: ignore[no-untyped-def]
    """Outputs for ``paths`` and seconds per pass, the median of ``rounds`` passes, warm."""
    times = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(fn, paths[:workers]))  # start and import in every worker first
            for _ in range(rounds):
                started = time.perf_counter()
                out = list(pool.map(fn, paths))
                times.append(time.perf_counter() - started)
        return out, statistics.median(times)
    fn(paths[0])
    for _ in range(rounds):
        started = time.perf_counter()
        out = [fn(p) for p in paths]
        times.append(time.perf_counter() - started)
    return out, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    paths = sorted((CORPUS / "original").glob("*.html"))
    gold = {
        p.stem: (CORPUS / "cleaned" / f"{p.stem}.txt").read_text(encoding="utf-8") for p in paths
    }
    our_out, our_s = timed(ours, paths, args.workers)
    _, our_1s = timed(ours, paths, 1)
    base_out, base_1s = timed(plain, paths, 1)
    _, base_s = timed(plain, paths, args.workers)
    rows = []
    for path, a, b in zip(paths, our_out, base_out, strict=True):
        rows.append((path.stem[:8], scores(a, gold[path.stem]), scores(b, gold[path.stem])))
    print(f"{'page':<10}{'ours P':>8}{'R':>6}{'F1':>6}   {'plain P':>8}{'R':>6}{'F1':>6}")
    for name, (p, r, f), (bp, br, bf) in sorted(rows, key=lambda row: row[1][2]):
        flag = "  WORSE" if f < bf - 1e-9 else ""
        print(f"{name:<10}{p:>8.3f}{r:>6.3f}{f:>6.3f}   {bp:>8.3f}{br:>6.3f}{bf:>6.3f}{flag}")
    mean = [statistics.mean(row[1][i] for row in rows) for i in range(3)]
    base = [statistics.mean(row[2][i] for row in rows) for i in range(3)]
    worse = sum(1 for row in rows if row[1][2] < row[2][2] - 1e-9)
    bad = sum(mojibake(p) for p in paths)
    print(f"\n{len(paths)} pages          {'P':>6}{'R':>7}{'F1':>7}{'pages/s':>10}")
    print(
        f"newsmirror      {mean[0]:>6.3f}{mean[1]:>7.3f}{mean[2]:>7.3f}"
        f"{len(paths) / our_s:>10.1f}  ({args.workers} processes; "
        f"{len(paths) / our_1s:.1f} on one)"
    )
    print(
        f"plain trafilatura {base[0]:>4.3f}{base[1]:>7.3f}{base[2]:>7.3f}"
        f"{len(paths) / base_s:>10.1f}  ({args.workers} processes; "
        f"{len(paths) / base_1s:.1f} on one)"
    )
    print(
        f"speed ratio newsmirror / plain trafilatura: {base_s / our_s:.2f} on "
        f"{args.workers} processes, {base_1s / our_1s:.2f} on one"
    )
    print(f"pages worse than plain trafilatura: {worse}; pages with mojibake: {bad}")
    print("targets: mean F1 >= 0.90, no page worse, no mojibake, >= 50 pages/s on 2 cores")
    metadata_report(paths, args.workers)
    readability_authors()


if __name__ == "__main__":
    main()
