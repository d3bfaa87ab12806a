// 简/繁 switch. The page's script is its <html lang> (zh-Hans or zh-Hant, set at build time).
// OpenCC's phrase-level converter (opencc-js, opencc/LICENSE) is loaded only when the reader
// asks for the other script: simplified -> Taiwan (s2twp) or, for a Hong Kong or Macau
// browser, Hong Kong (s2hk) traditional; traditional -> simplified (tw2s).
// The reader's choice is kept in localStorage["zh-script"] ("hans" or "hant").
(function () {
  var KEY = "zh-script", TAG = {hans: "zh-Hans", hant: "zh-Hant"};
  var LABEL = {hans: "简体", hant: "繁體"};
  var root = document.documentElement;
  var button = document.querySelector(".zh-toggle");
  var me = document.currentScript;
  if (!button || !me) { return; }
  var own = root.getAttribute("lang") === TAG.hant ? "hant" : "hans";
  var other = own === "hans" ? "hant" : "hans";
  var dir = me.src.replace(/[^\/]*$/, "") + "opencc/";
  var shown = own, convert = null, loading = false, observer = null;
  var texts = [], attrs = [];  // [node, original, converted] and [element, name, original, converted]
  var ATTRS = ["placeholder", "aria-label", "alt", "title"];
  var SKIP = {SCRIPT: 1, STYLE: 1, TEXTAREA: 1, NOSCRIPT: 1};

  function region() {
    var langs = navigator.languages || [navigator.language || ""];
    for (var i = 0; i < langs.length; i++) {
      var l = String(langs[i]).toLowerCase();
      if (l.indexOf("zh") === 0) { return /-(hk|mo)(-|$)/.test(l) ? "hk" : "tw"; }
    }
    return "tw";
  }

  function skipped(el) {  // scripts, the switch itself, text in a language other than Chinese
    if (SKIP[el.tagName] || el === button) { return true; }
    var lang = el.getAttribute("lang");
    return el !== root && lang !== null && !/^zh(-|$)/i.test(lang);
  }

  function text(node) {
    var now = node.nodeValue, out = convert(now);
    if (out !== now) { texts.push([node, now, out]); node.nodeValue = out; }
  }

  function element(el) {
    for (var i = 0; i < ATTRS.length; i++) {
      var name = ATTRS[i], value = el.getAttribute(name);
      if (value === null) { continue; }
      var out = convert(value);
      if (out !== value) { attrs.push([el, name, value, out]); el.setAttribute(name, out); }
    }
    if (el.tagName === "META" && el.getAttribute("name") === "description") {
      var content = el.getAttribute("content") || "", converted = convert(content);
      if (converted !== content) {
        attrs.push([el, "content", content, converted]); el.setAttribute("content", converted);
      }
    }
    if (el.getAttribute("lang") === TAG[own]) {
      attrs.push([el, "lang", TAG[own], TAG[other]]); el.setAttribute("lang", TAG[other]);
    }
  }

  function walk(node) {
    if (node.nodeType === 3) { text(node); return; }
    if (node.nodeType !== 1 || skipped(node)) { return; }
    element(node);
    for (var child = node.firstChild; child; child = child.nextSibling) { walk(child); }
  }

  function inside(node) {  // a node added later: converted unless an ancestor is skipped
    for (var el = node.parentNode; el && el !== root; el = el.parentNode) {
      if (el.nodeType === 1 && skipped(el)) { return false; }
    }
    return true;
  }

  function label() {
    var next = shown === "hans" ? "hant" : "hans";
    button.textContent = LABEL[next];
    button.setAttribute("lang", TAG[next]);
    button.setAttribute("data-mode", shown);
  }

  function toOther() {
    texts = []; attrs = [];
    walk(root);
    shown = other;
    observer = new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        var added = records[i].addedNodes;
        for (var j = 0; j < added.length; j++) { if (inside(added[j])) { walk(added[j]); } }
      }
    });
    observer.observe(document.body, {childList: true, subtree: true});
    label();
  }

  function toOwn() {
    if (observer) { observer.disconnect(); observer = null; }
    for (var i = 0; i < texts.length; i++) {
      if (texts[i][0].nodeValue === texts[i][2]) { texts[i][0].nodeValue = texts[i][1]; }
    }
    for (var k = attrs.length - 1; k >= 0; k--) {
      var a = attrs[k];
      if (a[0].getAttribute(a[1]) === a[3]) { a[0].setAttribute(a[1], a[2]); }
    }
    texts = []; attrs = [];
    shown = own;
    label();
  }

  function withConverter(done) {
    if (convert) { done(); return; }
    if (loading) { return; }
    loading = true;
    button.setAttribute("aria-busy", "true");
    var script = document.createElement("script");
    script.src = dir + (own === "hans" ? "cn2t.js" : "t2cn.js");
    script.onload = function () {
      var to = region() === "hk" ? "hk" : "twp";
      convert = own === "hans" ? OpenCC.Converter({from: "cn", to: to})
                               : OpenCC.Converter({from: "tw", to: "cn"});
      loading = false;
      button.removeAttribute("aria-busy");
      done();
    };
    script.onerror = function () { loading = false; button.removeAttribute("aria-busy"); };
    document.head.appendChild(script);
  }

  function show(script) {
    if (script === shown) { return; }
    if (script === own) { toOwn(); } else { withConverter(function () { if (shown === own) { toOther(); } }); }
  }

  button.hidden = false;
  label();
  var saved = null;
  try { saved = localStorage.getItem(KEY); } catch (e) {}
  if (saved === other) { show(other); }
  button.addEventListener("click", function () {
    var want = shown === "hans" ? "hant" : "hans";
    try { localStorage.setItem(KEY, want); } catch (e) {}
    show(want);
  });
})();
