"""Hostile text never runs a script: XSS vectors as titles, authors, source names, tags, links
and the site title, through the static site and the Jekyll `--site` tree built by real Jekyll,
loaded in headless Chromium (0 alerts, no injected element, attribute or link)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import CHROMIUM, CHROMIUM_FLAGS, JEKYLL, jekyll_build, local_only_context
from newsmirror.demo.server import serve_folder
from newsmirror.store import Archive
from pgharness import archive_option

VECTORS = [
    "<img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "' onmouseover=alert(1) x='",
    "{{ site }}{% raw %}<b onclick=alert(1)>b</b>{% endraw %}",
    "</title><script>alert(1)</script>",
    '*x*{: onmouseover="alert(1)"} [y](javascript:alert(1))',
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
]
LINKS = [
    "javascript:alert(1)",
    " JaVaScRiPt:alert(2)",
    'https://e.org/1"><img src=x onerror=alert(1)>',
    "https://e.org/2' onmouseover='alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://e.org/6?a=<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "java\tscript:alert(8)",
    "https://e.org/9",
    "https://e.org/10",
]
SITE_TITLE = '<img src=x onerror=alert(1)>"</title><script>alert(1)</script>'

# Run in each loaded page: every attribute that could run a script, every link that is not
# http(s), every script element.
INSPECT = """() => {
  const bad = [];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) { bad.push(`${el.tagName} ${name}`); }
      if (["href", "src", "action", "formaction", "xlink:href", "data", "srcdoc"].includes(name)) {
        let protocol = "invalid";
        try { protocol = new URL(attr.value, location.href).protocol; } catch (e) {}
        if (!["http:", "https:"].includes(protocol)) {
          bad.push(`${el.tagName} ${name}=${attr.value}`);
        }
      }
    }
    // The status page's own charts are the only SVG allowed (their attributes are checked
    // above like every element's).
    const chart = el.tagName === "svg" && el.getAttribute("class") === "nm-chart";
    if (["SVG", "svg", "IFRAME", "OBJECT", "EMBED"].includes(el.tagName) && !chart) {
      bad.push(el.tagName);
    }
  }
  const scripts = Array.from(document.scripts).map((s) => s.src
    ? new URL(s.src).pathname.split("/").pop()
    : "inline:" + s.textContent.trim().slice(0, 30));
  return {bad, scripts, alerts: window.__alerts || []};
}"""
TRAP = """
window.__alerts = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = (...args) => { window.__alerts.push(name + ":" + args.join(",")); };
}
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)"
    ),
]


def hostile_archive(path: Path) -> Path:
    """An archive whose articles carry the vectors in every field a page shows."""
    start = datetime(2024, 1, 1, 8, tzinfo=UTC)
    with Archive.open(path) as archive:
        for i, url in enumerate(LINKS):
            n = len(VECTORS)
            archive.import_article(
                source=VECTORS[i % 4 * 2 % n] if i < 8 else VECTORS[(i + 1) % n],
                url=url,
                title=VECTORS[(i + 1) % n],
                author=VECTORS[(i + 2) % n],
                content=f"<p>正文 alert onerror script {i}</p>",
                tags=[VECTORS[(i + 3) % n], VECTORS[(i + 4) % n]],
                published=start + timedelta(days=i),
                date_known=True,
                published_raw="",
                jekyll_name="",
                now=start,
            )
        archive.conn.commit()
    return path


def newsmirror(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "newsmirror", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def visit(browser, urls: list[str], allowed_scripts: set[str]) -> dict[str, object]:
    """Load each page; return what went wrong in which page."""
    context, outside = local_only_context(browser)
    context.add_init_script(TRAP)
    dialogs: list[str] = []
    problems: dict[str, object] = {}
    tab = context.new_page()
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for url in urls:
        tab.goto(url)
        tab.wait_for_load_state("load")
        if "search.html?q=" in url:
            tab.wait_for_function(
                "document.getElementById('search-status').textContent.startsWith('找到')",
                timeout=20_000,
            )
        tab.wait_for_timeout(50)  # let failed images fire their error events
        found = tab.evaluate(INSPECT)
        scripts = [s for s in found["scripts"] if s not in allowed_scripts]
        if found["bad"] or found["alerts"] or scripts:
            problems[url] = {**found, "scripts": scripts}
    context.close()
    if dialogs:
        problems["dialogs"] = dialogs
    if outside:
        problems["outside"] = outside
    return problems


def test_static_site_runs_no_script(tmp_path, browser):
    archive = hostile_archive(tmp_path / "archive.sqlite")
    out = tmp_path / "public"
    newsmirror(*archive_option(archive), "build", str(out), "--title", SITE_TITLE)
    pages = [
        p.relative_to(out).as_posix()
        for p in sorted(out.rglob("*.html"))
        if p.name != "search.html"
    ]
    assert len([p for p in pages if p.startswith("posts/")]) == len(LINKS)
    assert len([p for p in pages if p.startswith("sources/")]) >= 6
    assert len([p for p in pages if p.startswith("tags/")]) >= 8
    with serve_folder(out) as base:
        urls = [f"{base}/{p}" for p in pages]
        urls += [f"{base}/search.html?q={q}" for q in ("alert", "onerror", "script", "正文")]
        # The 404 page's own inline script, which finds the site's root (no text in it).
        problems = visit(
            browser,
            urls,
            {"zh.js", "search-index.js", "search.js", "inline:// newsmirror 404: site's root"},
        )
    assert problems == {}


@pytest.mark.skipif(JEKYLL is None, reason="Debian jekyll is not installed (.ci/run installs it)")
def test_jekyll_site_runs_no_script(tmp_path, browser):
    archive = hostile_archive(tmp_path / "archive.sqlite")
    tree = tmp_path / "tree"
    export = [*archive_option(archive), "export", "jekyll", str(tree), "--site"]
    newsmirror(*export)
    newsmirror(*export, "--title", SITE_TITLE)  # again: the site files are rewritten
    jekyll_build(tree, tree / "_site")
    site = tree / "_site"
    posts = sorted(p.relative_to(site).as_posix() for p in (site / "posts").glob("*.html"))
    assert len(posts) == len(LINKS)
    with serve_folder(site) as base:
        urls = [f"{base}/{p}" for p in ["index.html", "archive.html", *posts]]
        problems = visit(browser, urls, set())
    assert problems == {}
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in index  # shown as text, not dropped
