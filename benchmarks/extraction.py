"""Extraction benchmark on ../shared/corpus/zh-extraction and readability-pages.

    python benchmarks/extraction.py [--workers 2] [--rounds 7] [--bodies-only]

For each set, precision / recall / F1 of the extracted text against the gold text,
per page (sorted by the difference) and on average, for newsmirror's extractor
beside plain trafilatura with default settings (given the page decoded by
charset-normalizer, as a user of trafilatura would), the worst page and its
difference, and the speed ratio. zh-extraction (35 Chinese pages, gold cleaned/)
is scored on bags of characters (white space ignored); readability-pages (49
mostly European pages, gold = the text of expected.html) on bags of words.
Also checks that every Chinese page decodes without mojibake, and times
extraction with one process per core and with one process (warm), beside plain
trafilatura in the same run: each round times a whole pass of both, in alternating
order, and the speed ratio shown is the median over the rounds (this machine is
shared and noisy: compare the ratio, not the pages/s). The ratio is of busy time (the
time each page took in its worker, summed over the pass: the throughput of a long
queue of pages); the ratio of wall time per pass is shown beside it (see timed_pair).

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
import functools
import re
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import lxml.html  # noqa: E402
import trafilatura  # noqa: E402
from charset_normalizer import from_bytes  # noqa: E402

from newsmirror.decode import decode_html  # noqa: E402
from newsmirror.extract import block_text, extract_article  # noqa: E402
from newsmirror.pagemeta import first_date, parse_declared  # noqa: E402
from newsmirror.timeutil import DEFAULT_ZONE, in_zone  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "zh-extraction"
READABILITY = ROOT.parent / "shared" / "corpus" / "readability-pages"
_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
ROUNDS = 7  # timed rounds of each extractor; the median is shown


def scores(predicted: str, gold: str) -> tuple[float, float, float]:
    pred = collections.Counter(_WS.sub("", predicted or ""))
    ref = collections.Counter(_WS.sub("", gold))
    overlap = sum((pred & ref).values())
    p = overlap / max(1, sum(pred.values()))
    r = overlap / max(1, sum(ref.values()))
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _page_url(path: Path) -> str:
    name = path.parent.name if path.stem == "source" else path.stem
    return f"https://example.org/{name}"


def ours(path: Path) -> str:
    text, _ = decode_html(path.read_bytes())
    try:
        return extract_article(text, _page_url(path)).text
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
    if not found or isinstance(found, dict):  # a dict only when as_dict=True
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


def metadata_report(paths: list[Path], workers: int, rounds: int = ROUNDS) -> None:
    """Date and author accuracy against date/ and author/, ours beside trafilatura's."""
    timing = timed_pair(ours_meta, plain_meta, paths, workers, rounds)
    (ours_out, plain_out), (ours_s, plain_s) = timing.outs, timing.wall
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
        f"(ratio {timing.ratio:.2f}, {timing.wall_ratio:.2f} on wall time; median of {rounds} "
        f"interleaved rounds, {workers} processes)"
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


def _block_text(markup: str) -> str:
    """The text of a gold HTML file, each block on its own line."""
    root = lxml.html.document_fromstring(f"<html><body>{markup}</body></html>")
    return block_text(root)


def word_scores(predicted: str, gold: str) -> tuple[float, float, float]:
    """Precision / recall / F1 of the bags of words (lower case), for alphabetic scripts."""
    pred = collections.Counter(_WORD.findall((predicted or "").lower()))
    ref = collections.Counter(_WORD.findall(gold.lower()))
    overlap = sum((pred & ref).values())
    p = overlap / max(1, sum(pred.values()))
    r = overlap / max(1, sum(ref.values()))
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


Score = Callable[[str, str], tuple[float, float, float]]


def body_report(
    title: str,
    named: list[tuple[str, Path]],
    gold: dict[str, str],
    score: Score,
    workers: int,
    rounds: int = ROUNDS,
) -> None:
    """Per page and mean P/R/F1 of newsmirror beside plain trafilatura, the worst page, speed."""
    paths = [path for _, path in named]
    timing = timed_pair(ours, plain, paths, workers, rounds)
    (our_out, base_out), (our_s, base_s) = timing.outs, timing.wall
    one = timed_pair(ours, plain, paths, 1, rounds)
    our_1s, base_1s = one.wall
    rows = []
    for (name, _), a, b in zip(named, our_out, base_out, strict=True):
        rows.append((name, score(a, gold[name]), score(b, gold[name])))
    print(f"\n== {title}: {len(rows)} pages ==")
    print(
        f"{'page':<34}{'ours P':>7}{'R':>6}{'F1':>6}   {'plain P':>7}{'R':>6}{'F1':>6}{'diff':>7}"
    )
    for name, (p, r, f), (bp, br, bf) in sorted(rows, key=lambda row: row[1][2] - row[2][2]):
        flag = "  WORSE" if f < bf - 0.05 else ""
        print(
            f"{name[:33]:<34}{p:>7.3f}{r:>6.3f}{f:>6.3f}   {bp:>7.3f}{br:>6.3f}{bf:>6.3f}"
            f"{f - bf:>+7.3f}{flag}"
        )
    mean = [statistics.mean(row[1][i] for row in rows) for i in range(3)]
    base = [statistics.mean(row[2][i] for row in rows) for i in range(3)]
    worst = min(rows, key=lambda row: row[1][2] - row[2][2])
    worse = sum(1 for row in rows if row[1][2] < row[2][2] - 0.05)
    print(f"\n{title:<18}{'P':>6}{'R':>7}{'F1':>7}{'pages/s':>10}")
    print(
        f"newsmirror        {mean[0]:>6.3f}{mean[1]:>7.3f}{mean[2]:>7.3f}"
        f"{len(paths) / our_s:>10.1f}  ({workers} processes; {len(paths) / our_1s:.1f} on one)"
    )
    print(
        f"plain trafilatura {base[0]:>6.3f}{base[1]:>7.3f}{base[2]:>7.3f}"
        f"{len(paths) / base_s:>10.1f}  ({workers} processes; {len(paths) / base_1s:.1f} on one)"
    )
    print(
        f"mean F1 difference {mean[2] - base[2]:+.3f}; worst page {worst[0]} "
        f"{worst[1][2]:.3f} vs {worst[2][2]:.3f} ({worst[1][2] - worst[2][2]:+.3f}); "
        f"pages worse by more than 0.05: {worse}"
    )
    print(
        f"speed ratio newsmirror / plain trafilatura (median of {rounds} interleaved rounds): "
        f"{timing.ratio:.2f} on {workers} processes, {one.ratio:.2f} on one (on wall time per "
        f"pass: {timing.wall_ratio:.2f} and {one.wall_ratio:.2f})"
    )


def _timed_call(fn: Callable[[Path], object], path: Path) -> tuple[object, float]:
    """``fn(path)`` and the seconds it took, measured where it runs (in the worker)."""
    started = time.perf_counter()
    out = fn(path)
    return out, time.perf_counter() - started


class Timing(NamedTuple):
    outs: tuple[list, list]  # type: ignore[type-arg]  # each extractor's outputs, per page
    wall: tuple[float, float]  # median seconds per whole pass, wall clock
    ratio: float  # median over the rounds of busy(second) / busy(first)
    wall_ratio: float  # the same on wall-clock time per pass


def timed_pair(first, second, paths: list[Path], workers: int, rounds: int = ROUNDS) -> Timing:  # type: ignore[no-untyped-def]
    """Two extractors timed in the same run: in each round both make a whole pass over
    ``paths``, in alternating order (ABBA), so that load from other processes on this
    machine falls on both alike. Before the rounds, one untimed pass of each warms every
    worker (imports, lazily loaded parts such as the full pass's readability).

    The speed ratio compares the busy time of a pass, the sum over its pages of the
    time each extraction took in its worker, with ``workers`` of them running at once:
    that is the throughput of a long queue of pages. The wall time of one pass over a
    few dozen pages is not: with several processes it ends when the last page does, so
    it counts a worker left idle behind one long page (a single page of
    readability-pages is a quarter of a pass) and hides whatever the other worker did
    meanwhile; depending on the order of the pages alone it moved the ratio by +/-0.1.
    Both ratios are returned; on one process they agree."""
    busy: tuple[list[float], list[float]] = ([], [])
    wall: tuple[list[float], list[float]] = ([], [])
    outs: list[list[object]] = [[], []]
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    run = pool.map if pool is not None else map
    try:
        for fn in (first, second):
            list(run(fn, paths))  # warm up every worker on every page
        for round_ in range(rounds):
            order = (0, 1) if round_ % 2 == 0 else (1, 0)
            for i in order:
                started = time.perf_counter()
                done = list(run(functools.partial(_timed_call, (first, second)[i]), paths))
                wall[i].append(time.perf_counter() - started)
                busy[i].append(sum(seconds for _, seconds in done))
                outs[i] = [out for out, _ in done]
    finally:
        if pool is not None:
            pool.shutdown()

    def ratio(times: tuple[list[float], list[float]]) -> float:
        return statistics.median(b / a for a, b in zip(times[0], times[1], strict=True))

    return Timing(
        (outs[0], outs[1]),
        (statistics.median(wall[0]), statistics.median(wall[1])),
        ratio(busy),
        ratio(wall),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bodies-only", action="store_true", help="skip dates and authors")
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help="timed passes of each (the median is shown)"
    )
    args = parser.parse_args()
    paths = sorted((CORPUS / "original").glob("*.html"))
    gold = {
        p.stem: (CORPUS / "cleaned" / f"{p.stem}.txt").read_text(encoding="utf-8") for p in paths
    }
    bad = sum(mojibake(p) for p in paths)
    body_report(
        CORPUS.name,
        [(p.stem[:8], p) for p in paths],
        {k[:8]: v for k, v in gold.items()},
        scores,
        args.workers,
        args.rounds,
    )
    print(f"pages with mojibake: {bad}")
    print("targets: mean F1 >= 0.91, no mojibake, speed ratio >= 0.9")
    pages = sorted(READABILITY.glob("*/source.html"))
    if pages:
        named = [(p.parent.name, p) for p in pages]
        gold_html = {
            p.parent.name: _block_text((p.parent / "expected.html").read_text(encoding="utf-8"))
            for p in pages
        }
        body_report(
            READABILITY.name + " (words)", named, gold_html, word_scores, args.workers, args.rounds
        )
        print("targets: mean F1 >= plain trafilatura's, no page worse by more than 0.05")
    if not args.bodies_only:
        metadata_report(paths, args.workers, args.rounds)
        readability_authors()


if __name__ == "__main__":
    main()
