// The search page: the form, the results with their snippets, the count and the pages
// (the query in the URL: search.html?q=...&page=N). The index is read by search-index.js
// (NM_SEARCH.core), loaded before this. Results are built with DOM APIs and textContent only.
(function () {
  "use strict";
  var C = window.NM_SEARCH.core;
  var PER_PAGE = C.PER_PAGE, ROOT = C.ROOT, clean = C.clean, confirmUpTo = C.confirmUpTo;
  var countText = C.countText, foldChars = C.foldChars, load = C.load, loadFold = C.loadFold;
  var spans = C.spans, startSearch = C.startSearch, terms = C.terms;
  // The zones readers know by a city's name, as the article pages name them (the search
  // page's data-zones: timeutil.ZONE_NAMES); any other zone is shown as its UTC offset.
  var ZONES = {};
  try { ZONES = JSON.parse(document.currentScript.getAttribute("data-zones") || "{}"); } catch (e) {}
  var SNIPPET_BEFORE = 30; // characters of context before the first match
  var SNIPPET_LENGTH = 120;

  // ---- showing results ----

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function zoneParts(date, zone) {
    var parts = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(date);
    var p = {};
    parts.forEach(function (x) { p[x.type] = x.value; });
    return p;
  }

  // "2024-05-01 16:00 北京时间" (the source's zone, else Asia/Shanghai; never "CST").
  function dateText(iso, zone) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) { return ""; }
    var p;
    zone = zone || "Asia/Shanghai";
    try {
      p = zoneParts(date, zone);
    } catch (e) {
      zone = "Asia/Shanghai";
      p = zoneParts(date, zone);
    }
    var local = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
    var offset = Math.round((local - Math.floor(date.getTime() / 1000) * 1000) / 60000);
    var label;
    if (Object.prototype.hasOwnProperty.call(ZONES, zone)) {
      label = ZONES[zone];
    } else {
      var abs = Math.abs(offset), h = Math.floor(abs / 60), m = abs % 60;
      label = "UTC" + (offset ? (offset < 0 ? "-" : "+") + h + (m ? ":" + pad(m) : "") : "");
    }
    return p.year + "-" + p.month + "-" + p.day + " " + pad(+p.hour % 24) + ":" + p.minute + " " + label;
  }

  // Folded text, its spans, mapped back to UTF-16 offsets of the original text.
  function highlight(text, words) {
    var orig = Array.from(text), folded = foldChars(text), at = [0], fo = [0];
    for (var i = 0; i < orig.length; i++) {
      at.push(at[i] + orig[i].length);
      fo.push(fo[i] + folded[i].length);
    }
    var byFolded = new Map();
    fo.forEach(function (f, i) { byFolded.set(f, at[i]); });
    return spans(folded.join(""), words).map(function (s) {
      return [byFolded.get(s[0]), byFolded.get(s[1])];
    }).filter(function (s) { return s[0] !== undefined && s[1] !== undefined; });
  }

  function appendMarked(parent, text, marks, from, to) {
    var pos = from;
    marks.forEach(function (s) {
      var a = Math.max(s[0], from), b = Math.min(s[1], to);
      if (a >= b) { return; }
      if (a > pos) { parent.appendChild(document.createTextNode(text.slice(pos, a))); }
      var mark = document.createElement("mark");
      mark.textContent = text.slice(a, b);
      parent.appendChild(mark);
      pos = b;
    });
    if (pos < to) { parent.appendChild(document.createTextNode(text.slice(pos, to))); }
  }

  // Whole code points only: an offset inside a surrogate pair moves back.
  function cpStart(text, i) {
    var c = text.charCodeAt(i);
    return i > 0 && c >= 0xdc00 && c < 0xe000 ? i - 1 : i;
  }

  function snippet(text, words) {
    text = clean(text);
    var marks = highlight(text, words), p = document.createElement("p");
    p.className = "excerpt";
    var first = marks.length ? marks[0][0] : 0;
    var from = cpStart(text, Math.max(0, first - SNIPPET_BEFORE));
    var to = cpStart(text, Math.min(text.length, from + SNIPPET_LENGTH));
    if (marks.length && to < marks[0][1]) { to = marks[0][1]; }
    if (from > 0) { p.appendChild(document.createTextNode("…")); }
    appendMarked(p, text, marks, from, to);
    if (to < text.length) { p.appendChild(document.createTextNode("…")); }
    return p;
  }

  function safeHref(url) {
    url = String(url);
    return /^[\w.~%-]+(\/[\w.~%-]+)*$/.test(url) ? ROOT + url : "#"; // a quote()d site path only
  }

  function resultItem(hit, words) {
    var doc = hit.doc, title = clean(String(doc[1])), li = document.createElement("li");
    var a = document.createElement("a");
    a.className = "result-title";
    a.href = safeHref(doc[0]);
    appendMarked(a, title, highlight(title, words), 0, title.length);
    var meta = document.createElement("p");
    meta.className = "meta";
    meta.textContent = [String(doc[2] || ""), dateText(String(doc[3]), String(doc[5] || ""))]
      .filter(Boolean).join(" · ");
    li.appendChild(a);
    li.appendChild(meta);
    li.appendChild(snippet(String(doc[4] || ""), words));
    return li;
  }

  // ---- the page ----

  var form = document.getElementById("search-form");
  var input = document.getElementById("search-input");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var pager = document.getElementById("search-pager");
  if (!form || !input || !status || !list) { return; }
  var generation = 0;
  var baseTitle = document.title;

  function fromUrl() {
    var params = new URLSearchParams(location.search);
    var page = parseInt(params.get("p") || "1", 10);
    return { q: params.get("q") || "", page: page > 0 ? page : 1 };
  }

  function urlFor(q, page) {
    return "?q=" + encodeURIComponent(q) + (page > 1 ? "&p=" + page : "");
  }

  function pagerButton(text, page, q) {
    var a = document.createElement("a");
    a.href = urlFor(q, page);
    a.textContent = text;
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      history.pushState(null, "", urlFor(q, page));
      run(q, page, true);
    });
    return a;
  }

  // 继续查找 reads on where a page stopped (MISSES false candidates this round):
  // the same page again, with a new round.
  function goOnButton(q, page) {
    var a = document.createElement("a");
    a.href = urlFor(q, page);
    a.className = "search-more";
    a.textContent = "继续查找";
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      run(q, page, false, true);
    });
    return a;
  }

  function showPager(state, q, page) {
    if (!pager) { return; }
    pager.textContent = "";
    var short = state.stopped && state.confirmed.length < page * PER_PAGE;
    var more = !short &&
      (state.confirmed.length > page * PER_PAGE || state.checked < state.candidates.length);
    if (page > 1) { pager.appendChild(pagerButton("上一页", page - 1, q)); }
    if (page > 1 || more || short) {
      var here = document.createElement("span");
      here.textContent = "第 " + page + " 页";
      pager.appendChild(here);
    }
    if (more) { pager.appendChild(pagerButton("下一页", page + 1, q)); }
    if (short) { pager.appendChild(goOnButton(q, page)); }
  }

  function showCount(state, page, shown) {
    var text = countText(state);
    var paged = page > 1 || state.confirmed.length > PER_PAGE || state.checked < state.candidates.length;
    if (shown && paged) {
      var first = (page - 1) * PER_PAGE + 1;
      text += "，第 " + first + "–" + (first + shown - 1) + " 篇";
    } else if (page > 1 && state.checked >= state.candidates.length) {
      text += "，没有更多结果";
    }
    status.textContent = text;
  }

  function setBusy(busy) { list.setAttribute("aria-busy", busy ? "true" : "false"); }

  // A query asked again (the form, back and forward) shows what its search found so far;
  // only 继续查找 (goOn) starts a new round where a round stopped short.
  async function run(q, page, scroll, goOn) {
    var mine = ++generation;
    input.value = q;
    list.textContent = "";
    if (pager) { pager.textContent = ""; }
    document.title = (q.trim() ? q.trim() + " - " : "") + baseTitle;
    if (!q.trim()) { status.textContent = ""; setBusy(false); return; }
    setBusy(true);
    status.textContent = "搜索中…";
    try {
      var ready = await Promise.all([loadFold(), load("manifest")]);
      var words = terms(q);
      if (mine !== generation) { return; }
      if (!words.length) { status.textContent = ""; setBusy(false); return; }
      var state = await startSearch(words, ready[1]);
      if (mine !== generation) { return; }
      list.start = (page - 1) * PER_PAGE + 1;
      var from = (page - 1) * PER_PAGE, shown = 0;
      var render = function () {
        if (mine !== generation) { return; }
        var upto = Math.min(state.confirmed.length, page * PER_PAGE);
        for (; from + shown < upto; shown++) {
          list.appendChild(resultItem(state.confirmed[from + shown], state.words));
        }
        showCount(state, page, shown);
      };
      if (goOn || !state.stopped) { await confirmUpTo(state, page * PER_PAGE, render); }
      if (mine !== generation) { return; }
      render();
      showPager(state, q, page);
      if (scroll) { status.scrollIntoView({ block: "nearest" }); }
    } catch (err) {
      if (mine !== generation) { return; }
      status.textContent = "搜索索引无法加载（" + err.message + "）。请稍后再试，或在归档中浏览。";
    }
    setBusy(false);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var q = input.value;
    if (q !== fromUrl().q || fromUrl().page !== 1) { history.pushState(null, "", urlFor(q, 1)); }
    run(q, 1, false);
  });
  window.addEventListener("popstate", function () {
    var at = fromUrl();
    run(at.q, at.page, false);
  });
  var start = fromUrl();
  run(start.q, start.page, false);
  // Without a query, still load the two files every query needs (preloaded by the page).
  Promise.all([loadFold(), load("manifest")]).catch(function () {});
})();
