"""The search page in Chromium on a slow link: time to first results, repeated queries,
requests and bytes.

    python benchmarks/search_page.py SITE_FOLDER [-q 习近平 -q 拜登 ...] [--no-throttle]

SITE_FOLDER is a built site (``newsmirror build``; or ``benchmarks/search.py --keep DIR``'s
DIR/N/pages with DIR/N/site/search moved in and search.html, search-index.js, search.js and
style.css of any built site copied beside: the 10,000- and 100,000-article sites). The
folder is served on 127.0.0.1; Debian Chromium (headless, through Playwright) has its
network throttled with CDP (Network.emulateNetworkConditions: 4 Mbit/s down and up, 100 ms
latency). For each query, in a fresh browser context (empty cache):
  * cold: open ``search.html?q=QUERY`` (a shared link); the time from navigation start
    to the first result on screen, and to the first page complete; the requests and bytes
    (encoded, as transferred: CDP Network.loadingFinished) of the whole visit, and of the
    index files alone (search/);
  * repeated: another query, then QUERY again in the same page: the time from submit to
    its results (the files are in memory by then).
Prints one row per query, then the medians. Goal 3 of issue 13: at 100,000 articles a cold
query moves at most 300 kB in at most 30 requests, first results within 1.5 s, a repeated
query within 200 ms.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from newsmirror.demo.server import serve_folder  # noqa: E402

QUERIES = [
    "习近平",
    "拜登",
    "新冠",
    "六四",
    "1989",
    "一带一路",
    "美国大选",
    "台湾",
    "法轮功",
    "中国 经济",
]
THROTTLE = {
    "offline": False,
    "latency": 100,
    "downloadThroughput": 4_000_000 / 8,
    "uploadThroughput": 4_000_000 / 8,
}
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Performance times (ms since navigation) of the first result and of the finished page.
WATCH = """new MutationObserver(() => {
  const list = document.getElementById("search-results");
  if (!list) { return; }
  if (!window.__first && list.querySelector("li")) { window.__first = performance.now(); }
  if (!window.__done && list.getAttribute("aria-busy") === "false") {
    window.__done = performance.now();
  }
}).observe(document, {childList: true, subtree: true, attributes: true});"""
REPEAT = """async (q) => {
  const list = document.getElementById("search-results");
  const t0 = performance.now();
  document.getElementById("search-input").value = q;
  document.getElementById("search-form").requestSubmit();
  await new Promise(done => {
    const check = () => list.getAttribute("aria-busy") === "false";
    if (check()) { done(); return; }
    new MutationObserver((_, obs) => { if (check()) { obs.disconnect(); done(); } })
      .observe(list, {attributes: true});
  });
  return [performance.now() - t0, document.getElementById("search-status").textContent];
}"""


@dataclass
class Traffic:
    """Requests and bytes seen through CDP Network events."""

    urls: dict[str, str] = field(default_factory=dict)  # requestId -> URL
    sizes: dict[str, float] = field(default_factory=dict)  # requestId -> encoded bytes

    def attach(self, cdp: Any) -> None:
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["request"]["url"]

    def _finished(self, event: dict[str, Any]) -> None:
        self.sizes[event["requestId"]] = event.get("encodedDataLength", 0)

    def totals(self, index_only: bool = False) -> tuple[int, int]:
        ids = [
            rid
            for rid, url in self.urls.items()
            if not index_only or "/search/" in urlsplit(url).path
        ]
        return len(ids), int(sum(self.sizes.get(rid, 0) for rid in ids))


@dataclass
class Row:
    query: str
    count: str
    first_ms: float
    page_ms: float
    requests: int
    kbytes: float
    index_requests: int
    index_kbytes: float
    repeat_ms: float


def measure(browser: Any, base: str, query: str, other: str, throttle: bool) -> Row:
    """One cold visit of ``search.html?q=query``, then ``other`` and ``query`` again."""
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
    if throttle:
        cdp.send("Network.emulateNetworkConditions", THROTTLE)
    traffic = Traffic()
    traffic.attach(cdp)
    page.add_init_script(WATCH)
    page.goto(f"{base}/search.html?q={quote(query)}")
    page.wait_for_function("window.__done !== undefined", timeout=60000)
    first, done = page.evaluate("[window.__first, window.__done]")
    count = page.inner_text("#search-status")
    requests, size = traffic.totals()
    index_requests, index_size = traffic.totals(index_only=True)
    page.evaluate(REPEAT, other)
    repeat_ms, _ = page.evaluate(REPEAT, query)
    context.close()
    return Row(
        query,
        count,
        first if first is not None else float("nan"),
        done,
        requests,
        size / 1000,
        index_requests,
        index_size / 1000,
        repeat_ms,
    )


def run(site: Path, queries: list[str], throttle: bool = True) -> list[Row]:
    """Measure every query on ``site``; rows in the order of ``queries``."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    rows = []
    with serve_folder(site) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            for i, query in enumerate(queries):
                other = queries[(i + 1) % len(queries)] if len(queries) > 1 else "的"
                rows.append(measure(browser, base, query, other, throttle))
        finally:
            browser.close()
    return rows


def report(rows: list[Row]) -> str:
    head = (
        f"{'query':<12} {'first ms':>9} {'page ms':>8} {'req':>4} {'kB':>7} "
        f"{'idx req':>7} {'idx kB':>7} {'again ms':>8}  count"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r.query:<12} {r.first_ms:>9.0f} {r.page_ms:>8.0f} {r.requests:>4} {r.kbytes:>7.1f} "
            f"{r.index_requests:>7} {r.index_kbytes:>7.1f} {r.repeat_ms:>8.0f}  {r.count}"
        )

    def med(values: list[float]) -> float:
        return statistics.median(values)

    lines.append(
        f"{'median':<12} {med([r.first_ms for r in rows]):>9.0f} "
        f"{med([r.page_ms for r in rows]):>8.0f} {med([r.requests for r in rows]):>4.0f} "
        f"{med([r.kbytes for r in rows]):>7.1f} {med([r.index_requests for r in rows]):>7.0f} "
        f"{med([r.index_kbytes for r in rows]):>7.1f} {med([r.repeat_ms for r in rows]):>8.0f}"
    )
    lines.append(
        f"max: first {max(r.first_ms for r in rows):.0f} ms, "
        f"{max(r.requests for r in rows)} requests, {max(r.kbytes for r in rows):.1f} kB, "
        f"again {max(r.repeat_ms for r in rows):.0f} ms"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", type=Path, help="a built site folder (with search.html)")
    parser.add_argument("-q", "--query", action="append", help="a query (repeatable)")
    parser.add_argument("--no-throttle", action="store_true", help="full speed (localhost)")
    args = parser.parse_args()
    if not (args.site / "search.html").is_file():
        parser.error(f"{args.site} has no search.html: give a folder made by newsmirror build")
    rows = run(args.site, args.query or QUERIES, throttle=not args.no_throttle)
    print("throttled: 4 Mbit/s, 100 ms latency" if not args.no_throttle else "not throttled")
    print(report(rows))


if __name__ == "__main__":
    main()
