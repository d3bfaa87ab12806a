"""The site's other files: stylesheet, 简/繁 switch, search page, 404, status page and
status.json, mirrors page, the footer's freshness line, sitemap, robots.txt."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING

from newsmirror.publish import status
from newsmirror.publish.pages import Entry, href, page_path
from newsmirror.publish.redirects import write_redirect_pages
from newsmirror.publish.sitemaps import write_sitemaps

if TYPE_CHECKING:
    from newsmirror.publish.sitebuild import SiteBuild

_ZH_JS = """// 简/繁 switch: converts the page's text character by character (maps from OpenCC).
(function () {
  var S2T = %(s2t)s, T2S = %(t2s)s;
  window.NM_ZH = {S2T: S2T, T2S: T2S};
  var button = document.querySelector(".zh-toggle");
  if (!button) { return; }
  button.hidden = false;
  function convert(map) {
    var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    var node;
    while ((node = walker.nextNode())) {
      var text = node.nodeValue, out = "", changed = false;
      for (var i = 0; i < text.length; i++) {
        var c = map[text[i]];
        if (c) { out += c; changed = true; } else { out += text[i]; }
      }
      if (changed) { node.nodeValue = out; }
    }
  }
  function apply(mode) {
    convert(mode === "hant" ? S2T : T2S);
    button.textContent = mode === "hant" ? "简体" : "繁體";
    button.setAttribute("data-mode", mode);
  }
  var saved = null;
  try { saved = localStorage.getItem("zh-script"); } catch (e) {}
  if (saved === "hant") { apply("hant"); }
  button.addEventListener("click", function () {
    var mode = button.getAttribute("data-mode") === "hant" ? "hans" : "hant";
    apply(mode);
    try { localStorage.setItem("zh-script", mode); } catch (e) {}
  });
})();
"""


@lru_cache(maxsize=1)
def zh_script() -> str:
    """The 简/繁 switch with one-character maps in both directions, made with OpenCC."""
    import opencc

    to_t, to_s = opencc.OpenCC("s2t"), opencc.OpenCC("t2s")
    chars = "".join(chr(c) for c in range(0x4E00, 0xA000))
    trad, simp = to_t.convert(chars), to_s.convert(chars)
    s2t = {a: b for a, b in zip(chars, trad, strict=True) if a != b}
    t2s = {a: b for a, b in zip(chars, simp, strict=True) if a != b}
    return _ZH_JS % {
        "s2t": json.dumps(s2t, ensure_ascii=False, separators=(",", ":")),
        "t2s": json.dumps(t2s, ensure_ascii=False, separators=(",", ":")),
    }


def write_extras(site: SiteBuild, entries: list[Entry]) -> None:
    from newsmirror.publish.site import HERE

    site.emit("style.css", (HERE / "static" / "style.css").read_bytes())
    site.emit("zh.js", zh_script())
    site.render("search.html", "search.html")
    site.emit("search.js", (HERE / "static" / "search.js").read_bytes())
    site.render("404.html", "404.html")
    site.emit("updated.css", status.updated_css(site.updated))
    write_status(site)
    write_mirrors(site)
    base = site.options.base_url
    html_pages = sorted(p for p in site.made if p.endswith(".html") and p != "404.html")
    write_sitemaps(site, html_pages, entries)
    robots = "User-agent: *\nAllow: /\n" + (f"Sitemap: {base}sitemap.xml\n" if base else "")
    site.emit("robots.txt", robots)
    write_redirect_pages(site, entries)  # after the sitemap: old URLs are not listed there


def write_status(site: SiteBuild) -> None:
    """status.html for readers (changes once a day or with a source's health),
    status.json for monitors (also with the mirror's last update)."""
    archive = site.archive
    updated = archive.last_updated()
    win = status.window(updated)
    per_day = archive.articles_per_day(win.start, win.end, status.OFFSET_HOURS) if win else {}
    rows = status.status_rows(archive.health(), per_day, win)
    for row in rows:
        name = row["name"]
        row["href"] = (
            href(page_path(site.folders.source(name))) if name in site.folders.sources else None
        )
    site.render(
        "status.html",
        "status.html",
        rows=rows,
        fetched=site.updated is not None,  # the time itself: updated.css, as in the footer
        failing=sum(1 for r in rows if r["failing"]),
        days=len(win.days) if win else status.DAYS,
    )
    data = status.status_json(rows, updated, win)
    site.emit("status.json", json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")


def write_mirrors(site: SiteBuild) -> None:
    mirrors, refused = status.mirror_list(site.options.mirrors)
    for name in refused:
        site.log(f"mirror {name!r} left off mirrors.html: its address is not an http(s) URL")
    site.render("mirrors.html", "mirrors.html", mirrors=mirrors)
