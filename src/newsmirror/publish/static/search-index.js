// The site's full-text search, reading the index (format: notes in publish/search.py;
// rules: textsearch.py; the same as publish/searchread.py). Index files are scripts that
// call NM_SEARCH.put(name, value), so that they load with <script src> from any static host
// and from file:// alike. What the page uses is NM_SEARCH.core (search.js shows it).
(function () {
  "use strict";
  var PER_PAGE = 10;
  var BATCH_MIN = 4; // doc files asked for at once, at least, while confirming candidates
  // False candidates a page checks at most per round before it stops and offers 继续查找 (a doc
  // file costs ~10 kB; a query of common pairs may have many times more candidates than
  // matches). searchread.MISSES.
  var MISSES = 5;
  // Python's str.isspace(), which textsearch's split() and \s use.
  var SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
  var SPACE_RUNS = new RegExp(SPACE.source, "g");
  var SPACE_EDGES = new RegExp("^" + SPACE.source + "|" + SPACE.source + "$", "g");

  var NM = (window.NM_SEARCH = window.NM_SEARCH || {});
  var me = document.currentScript;
  var ROOT = (me && me.getAttribute("data-root")) || "";
  var pending = {}; // name -> {resolve, reject}
  var files = {}; // name -> promise of its value (the memory cache)

  NM.put = function (name, value) {
    var waiter = pending[name];
    if (waiter) {
      delete pending[name];
      waiter.resolve(value);
    }
  };

  // A file by name, loaded once (search.html preloads fold.js and manifest.js, so that
  // they arrive with this script); a failed load may be tried again later.
  function load(name) {
    if (!files[name]) {
      files[name] = new Promise(function (resolve, reject) {
        pending[name] = { resolve: resolve, reject: reject };
        var tag = document.createElement("script");
        tag.src = ROOT + "search/" + name + ".js";
        tag.async = true;
        var done = function (ok) {
          tag.remove();
          if (pending[name]) {
            delete pending[name];
            delete files[name];
            reject(new Error("search/" + name + ".js " + (ok ? "is not a search file" : "could not be loaded")));
          }
        };
        tag.addEventListener("load", function () { done(true); });
        tag.addEventListener("error", function () { done(false); });
        document.head.appendChild(tag);
      });
    }
    return files[name];
  }

  // ---- the shared rules (textsearch.py) ----

  var foldMap = null;

  // The fold table (searchindex.fold_value): unsigned varints of 5-bit digits (DIGITS,
  // 32 more when another digit follows, low digits first); for each folded character
  // in code point order the gap from the previous one, then the zigzag of (its folded
  // form - itself).
  var DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

  function readFold(pairs) {
    var numbers = [], current = 0, scale = 1, map = new Map(), last = 0;
    for (var i = 0; i < pairs.length; i++) {
      var digit = DIGITS.indexOf(pairs[i]);
      current += (digit & 31) * scale;
      scale *= 32;
      if (digit < 32) { numbers.push(current); current = 0; scale = 1; }
    }
    for (var k = 0; k + 1 < numbers.length; k += 2) {
      last += numbers[k];
      var zig = numbers[k + 1], diff = zig % 2 ? -(zig + 1) / 2 : zig / 2;
      map.set(String.fromCodePoint(last), String.fromCodePoint(last + diff));
    }
    return map;
  }

  function loadFold() {
    return load("fold").then(function (table) {
      if (!foldMap) { foldMap = readFold(String(table.pairs)); }
    });
  }

  function foldChars(text) {
    return Array.from(text, function (c) { return foldMap.get(c) || c; });
  }

  function fold(text) { return foldChars(text).join(""); }

  function terms(query) {
    var seen = [];
    fold(query).split(SPACE).forEach(function (w) {
      if (w && seen.indexOf(w) < 0) { seen.push(w); }
    });
    return seen;
  }

  function termGrams(term) {
    var cps = Array.from(term);
    if (cps.length < 2) { return cps.length ? [term] : []; }
    var out = [];
    for (var i = 0; i + 1 < cps.length; i++) {
      var g = cps[i] + cps[i + 1];
      if (out.indexOf(g) < 0) { out.push(g); }
    }
    return out;
  }

  // textsearch.site_term_grams: the term's pairs, except that each window of three Latin
  // letters or digits is a key of its own and stands for the pairs inside it.
  var LATIN = /^[a-z0-9]{3}$/;

  function siteTermGrams(term) {
    var cps = Array.from(term);
    if (cps.length < 3) { return termGrams(term); }
    var starts = [], covered = {}, out = [], i;
    for (i = 0; i + 2 < cps.length; i++) {
      if (LATIN.test(cps[i] + cps[i + 1] + cps[i + 2])) {
        starts.push(i);
        covered[i] = covered[i + 1] = true;
      }
    }
    var add = function (g) { if (out.indexOf(g) < 0) { out.push(g); } };
    for (i = 0; i + 1 < cps.length; i++) { if (!covered[i]) { add(cps[i] + cps[i + 1]); } }
    starts.forEach(function (k) { add(cps[k] + cps[k + 1] + cps[k + 2]); });
    return out;
  }

  function queryGrams(words) {
    var out = [];
    words.forEach(function (w) {
      siteTermGrams(w).forEach(function (g) { if (out.indexOf(g) < 0) { out.push(g); } });
    });
    return out;
  }

  // searchindex.term_keys: the term's keys, each with where it starts in the term.
  function termKeys(term) {
    var cps = Array.from(term);
    if (cps.length < 2) { return cps.length ? [[0, term]] : []; }
    var latin = [], inside = {}, out = [], i;
    for (i = 0; i + 2 < cps.length; i++) {
      if (LATIN.test(cps[i] + cps[i + 1] + cps[i + 2])) {
        latin.push(i);
        inside[i] = inside[i + 1] = true;
      }
    }
    for (i = 0; i + 1 < cps.length; i++) { if (!inside[i]) { out.push([i, cps[i] + cps[i + 1]]); } }
    latin.forEach(function (k) { out.push([k, cps[k] + cps[k + 1] + cps[k + 2]]); });
    return out.sort(function (a, b) { return a[0] - b[0]; });
  }

  // searchindex.cover_keys: the keys read first. A term of COVER_FROM keys or more: from
  // its start, the key that holds the first character not yet in a chosen key and
  // reaches furthest (pairs 0, 2, 4, ... and the last); the others are read once a
  // candidate turns out false (refine).
  var COVER_FROM = 4;
  function coverKeys(words) {
    var out = [];
    var add = function (g) { if (out.indexOf(g) < 0) { out.push(g); } };
    var end = function (k) { return k[0] + Array.from(k[1]).length; };
    words.forEach(function (w) {
      var keys = termKeys(w), n = Array.from(w).length;
      if (new Set(keys.map(function (k) { return k[1]; })).size < COVER_FROM) {
        keys.forEach(function (k) { add(k[1]); });
        return;
      }
      for (var done = 0; done < n;) {
        var best = null;
        keys.forEach(function (k) {
          if (k[0] <= done && done < end(k) && (!best || end(k) > end(best))) { best = k; }
        });
        add(best[1]);
        done = end(best);
      }
    });
    return out;
  }

  function exactByGrams(words) {
    return words.every(function (w) {
      var n = Array.from(w).length;
      return n <= 2 || (n === 3 && LATIN.test(w));
    });
  }

  // A doc's text (searchindex.pack_text): TEXT_DIGITS base 85, 5 digits for 4 bytes (most
  // significant first; a last group of k bytes as k + 1 digits), of the deflate-raw of the
  // text's UTF-16LE.
  var TEXT_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;.=>?@^_`{|}~";
  var TEXT_INDEX = {};
  for (var t = 0; t < TEXT_DIGITS.length; t++) { TEXT_INDEX[TEXT_DIGITS[t]] = t; }

  function unbase85(text) {
    var pad = (5 - text.length % 5) % 5, full = text + "~~~~".slice(0, pad);
    var out = new Uint8Array(full.length / 5 * 4);
    for (var i = 0, j = 0; i < full.length; i += 5, j += 4) {
      var word = 0;
      for (var k = 0; k < 5; k++) {
        var digit = TEXT_INDEX[full[i + k]];
        if (digit === undefined) { throw new Error("a doc's text is not base 85"); }
        word = word * 85 + digit;
      }
      out[j] = Math.floor(word / 16777216) % 256;
      out[j + 1] = (word >>> 16) & 255;
      out[j + 2] = (word >>> 8) & 255;
      out[j + 3] = word & 255;
    }
    return out.subarray(0, out.length - pad);
  }

  function unpackText(packed) {
    var stream = new Blob([unbase85(packed)]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new Response(stream).arrayBuffer().then(function (buffer) {
      return new TextDecoder("utf-16le", { ignoreBOM: true }).decode(buffer); // a leading U+FEFF is text
    });
  }

  function clean(text) { return text.replace(SPACE_RUNS, " ").replace(SPACE_EDGES, ""); }

  function searchable(title, text) { return fold(clean(title) + "\n" + clean(text)); }

  function matches(folded, words) {
    return words.every(function (w) { return folded.indexOf(w) >= 0; });
  }

  // Sorted, merged [start, end) offsets (UTF-16 units of the folded text) of the terms.
  function spans(folded, words, limit) {
    limit = limit || 50;
    var found = [];
    words.forEach(function (w) {
      if (!w) { return; }
      var start = folded.indexOf(w);
      while (start >= 0 && found.length < limit) {
        found.push([start, start + w.length]);
        start = folded.indexOf(w, start + w.length);
      }
    });
    found.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    var merged = [];
    found.forEach(function (s) {
      var last = merged[merged.length - 1];
      if (last && s[0] <= last[1]) { last[1] = Math.max(last[1], s[1]); } else { merged.push(s); }
    });
    return merged;
  }

  // FNV-1a 32-bit over code points.
  function gramHash(gram) {
    var h = 0x811c9dc5;
    for (var c of gram) {
      h = (h ^ c.codePointAt(0)) >>> 0;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h;
  }

  // Postings: base64 of either LEB128 deltas (the first from first - 1) or, after a zero
  // byte, a bitmap (bit k of byte j: doc first + 8 * j + k).
  function decode(postings, first) {
    var bytes = atob(postings), ids = [], i;
    if (bytes.length && bytes.charCodeAt(0) === 0) {
      for (i = 1; i < bytes.length; i++) {
        var byte = bytes.charCodeAt(i);
        for (var k = 0; k < 8; k++) {
          if (byte & (1 << k)) { ids.push(first + 8 * (i - 1) + k); }
        }
      }
      return ids;
    }
    var id = first - 1, value = 0, shift = 0;
    for (i = 0; i < bytes.length; i++) {
      var b = bytes.charCodeAt(i);
      value += (b & 0x7f) * Math.pow(2, shift);
      if (b & 0x80) { shift += 7; continue; }
      id += value;
      ids.push(id);
      value = 0;
      shift = 0;
    }
    return ids;
  }

  function intersect(lists) {
    if (!lists.length) { return []; }
    lists = lists.slice().sort(function (a, b) { return a.length - b.length; });
    var out = lists[0];
    for (var k = 1; k < lists.length && out.length; k++) {
      var other = lists[k], next = [], j = 0;
      for (var i = 0; i < out.length; i++) {
        while (j < other.length && other[j] < out[i]) { j++; }
        if (j < other.length && other[j] === out[i]) { next.push(out[i]); }
      }
      out = next;
    }
    return out;
  }

  // ---- candidates ----

  var decoded = {}; // "segment|b|gram" -> ids
  var shardMaps = {}; // shard name -> {b: Map gram -> postings, t: ...}

  // A shard's value: {"b": [[postings, "gram gram ..."], ...], "t": [...]} (grams that
  // share their postings are grouped). A shard file that is not there holds no gram.
  function loadShard(name) {
    return load(name).then(null, function () { return null; }).then(function (value) {
      if (!shardMaps[name]) {
        var maps = { b: new Map(), t: new Map() };
        ["b", "t"].forEach(function (kind) {
          ((value && value[kind]) || []).forEach(function (group) {
            var entry = [String(group[0]), group.length > 2 ? String(group[2]) : ""];
            String(group[1]).split(" ").forEach(function (g) { maps[kind].set(g, entry); });
          });
        });
        shardMaps[name] = maps;
      }
      return shardMaps[name];
    });
  }

  // The docs of a gram; with `need`, only those whose neighbour mask (one byte per doc,
  // for pairs and trigrams in "b") has every bit of it.
  function postingsOf(segment, shard, kind, gram, need) {
    var key = segment.name + "|" + kind + "|" + gram + "|" + (need || 0);
    if (!decoded[key]) {
      var entry = shard[kind].get(gram), ids = entry ? decode(entry[0], segment.first) : [];
      if (need && entry && entry[1]) { // dense postings carry no masks
        var masks = atob(entry[1]);
        ids = ids.filter(function (id, i) { return (masks.charCodeAt(i) & need) === need; });
      }
      decoded[key] = ids;
    }
    return decoded[key];
  }

  // For each pair or trigram key, the mask bits a doc must have (searchindex.next_masks):
  // bit (c % 4) of the character c after the key and bit 4 + (c % 4) of the one before,
  // wherever the key occurs inside a term.
  function nextMasks(words, grams) {
    var need = {};
    words.forEach(function (w) {
      var cps = Array.from(w);
      [2, 3].forEach(function (size) {
        for (var i = 0; i + size <= cps.length; i++) {
          var g = cps.slice(i, i + size).join("");
          if (grams.indexOf(g) < 0) { continue; }
          var bits = (i + size < cps.length ? 1 << (cps[i + size].codePointAt(0) % 4) : 0) |
            (i > 0 ? 16 << (cps[i - 1].codePointAt(0) % 4) : 0);
          if (bits) { need[g] = (need[g] || 0) | bits; }
        }
      });
    });
    return need;
  }

  function segmentCandidates(segment, grams, deleted, need) {
    var names = {};
    grams.forEach(function (g) {
      names[g] = segment.name + "/" + (gramHash(g) % segment.shards).toString(16);
    });
    var unique = Array.from(new Set(Object.values(names)));
    return Promise.all(unique.map(loadShard)).then(function (values) {
      var shards = {};
      unique.forEach(function (n, i) { shards[n] = values[i]; });
      function all(kind) {
        var ids = intersect(grams.map(function (g) {
          return postingsOf(segment, shards[names[g]], kind, g, kind === "b" ? need[g] : 0);
        }));
        return ids.filter(function (id) { return !deleted.has(id); });
      }
      return { body: all("b"), title: all("t") };
    });
  }

  // Title candidates first, then the rest, each newest (highest id) first.
  function order(parts) {
    var titles = [], rest = [];
    parts.forEach(function (p) {
      var inTitle = new Set(p.title);
      titles = titles.concat(p.title.filter(function (id) { return p.bodySet.has(id); }));
      rest = rest.concat(p.body.filter(function (id) { return !inTitle.has(id); }));
    });
    var desc = function (a, b) { return b - a; };
    return titles.sort(desc).concat(rest.sort(desc));
  }

  var searches = {}; // words key -> search state (the memory cache of results)

  function startSearch(words, manifest) {
    var key = JSON.stringify(words);
    if (!searches[key]) {
      searches[key] = Promise.resolve(manifest).then(function (manifest) {
        var grams = queryGrams(words), deleted = new Set(manifest.deleted || []);
        var need = nextMasks(words, grams), first = coverKeys(words);
        var state = {
          words: words, exact: exactByGrams(words), checked: 0, confirmed: [], busy: null,
          segments: manifest.segments, deleted: deleted, need: need,
          rest: grams.filter(function (g) { return first.indexOf(g) < 0; }),
        };
        return Promise.all(manifest.segments.map(function (s) {
          return segmentCandidates(s, first, deleted, need).then(function (c) {
            c.bodySet = new Set(c.body);
            return c;
          });
        })).then(function (parts) {
          state.parts = parts;
          state.candidates = order(parts);
          return state;
        });
      }, function (err) {
        delete searches[key];
        throw err;
      });
    }
    return searches[key];
  }

  // A candidate was false: read the keys not read yet (state.rest) in the segments that
  // still have unchecked candidates (or the false one), and keep only the candidates that
  // have them too; the checked ones the other keys rule out are dropped (searchread does
  // the same).
  function refine(state) {
    var rest = state.rest, left = state.candidates.slice(state.checked - 1);
    state.rest = [];
    return Promise.all(state.segments.map(function (s, i) {
      var part = state.parts[i];
      if (!left.some(function (id) { return id >= s.first && id <= s.last; })) { return part; }
      return segmentCandidates(s, rest, state.deleted, state.need).then(function (c) {
        var body = new Set(c.body), title = new Set(c.title);
        var p = {
          body: part.body.filter(function (id) { return body.has(id); }),
          title: part.title.filter(function (id) { return title.has(id); }),
        };
        p.bodySet = new Set(p.body);
        return p;
      });
    })).then(function (parts) {
      state.parts = parts;
      var all = order(parts), now = new Set(all);
      var kept = state.candidates.slice(0, state.checked).filter(function (id) { return now.has(id); });
      var seen = new Set(kept);
      state.candidates = kept.concat(all.filter(function (id) { return !seen.has(id); }));
      state.checked = kept.length;
    });
  }

  var PACK = 1; // docs per doc file (searchindex.PACK)
  function docName(id) {
    var pack = Math.floor(id / PACK);
    return "d/" + Math.floor(pack / 256).toString(16) + "/" + pack.toString(16);
  }

  // A doc: [url, title, source, published, text, zone], its text unpacked.
  var texts = {};
  function loadDoc(id) {
    if (!texts[id]) {
      texts[id] = load(docName(id)).then(function (pack) {
        var doc = pack[id % PACK];
        if (!doc) { throw new Error(docName(id) + " has no doc " + id); }
        return unpackText(String(doc[4] || "")).then(function (text) {
          return [doc[0], doc[1], doc[2], doc[3], text, doc[5]];
        });
      });
      texts[id].catch(function () { delete texts[id]; });
    }
    return texts[id];
  }

  // Confirm candidates in order until `want` results are confirmed, none are left or
  // MISSES of them were false in this round (state.stopped: the reader may go on);
  // `progress` is called after each candidate (results can be shown as they come).
  // One confirmation at a time per search (paging and a repeated query share it).
  function confirmUpTo(state, want, progress) {
    var run = (state.busy || Promise.resolve()).then(function () {
      return confirmMore(state, want, progress);
    });
    state.busy = run.catch(function () {});
    return run;
  }

  async function confirmMore(state, want, progress) {
    var misses = 0;
    state.stopped = false;
    while (state.confirmed.length < want && state.checked < state.candidates.length) {
      if (misses >= MISSES) { state.stopped = true; break; }
      var needed = want - state.confirmed.length;
      var ids = state.candidates.slice(
        state.checked, state.checked + Math.min(Math.max(needed, BATCH_MIN), needed + MISSES - misses));
      var docs = ids.map(loadDoc);
      for (var i = 0; i < ids.length; i++) {
        var doc = await docs[i];
        state.checked += 1;
        if (matches(searchable(String(doc[1]), String(doc[4] || "")), state.words)) {
          state.confirmed.push({ id: ids[i], doc: doc });
        } else {
          misses += 1;
          if (state.rest.length) {
            var before = state.checked;
            await refine(state);
            misses -= before - state.checked; // false ones the other keys rule out
            if (progress) { progress(); }
            break; // the candidates after it changed
          }
        }
        if (progress) { progress(); }
        if (state.confirmed.length >= want || misses >= MISSES) { break; }
      }
    }
    if (state.confirmed.length < want && state.checked < state.candidates.length) {
      state.stopped = true;
    }
    return state;
  }

  // Exact once every candidate was checked, or when the grams decide (terms of one or two
  // characters). Else the truth lies between the results found and the candidates not
  // found false (a superset of the matches): "约 N" only when one N is within 5% of every
  // count in that range; otherwise the page says how many it found so far and that the
  // total is not yet known (searchread.count_text, estimate_of).
  function estimateOf(least, most) {
    var estimate = Math.min(most, Math.floor(least * 105 / 100));
    return least && estimate * 100 >= most * 95 ? estimate : null;
  }

  function countText(state) {
    var left = state.candidates.length - state.checked;
    if (!left) { return state.confirmed.length ? "找到 " + state.confirmed.length + " 篇" : "没有找到"; }
    var most = state.candidates.length - (state.checked - state.confirmed.length);
    if (state.exact) { return "找到 " + most + " 篇"; }
    var estimate = estimateOf(state.confirmed.length, most);
    if (estimate !== null) { return "约 " + estimate + " 篇"; }
    if (!state.confirmed.length) { return "还没有找到（总数待确认）"; }
    return "已找到 " + state.confirmed.length + " 篇（总数待确认）";
  }

  NM.core = {
    PER_PAGE: PER_PAGE,
    ROOT: ROOT,
    clean: clean,
    confirmUpTo: confirmUpTo,
    countText: countText,
    foldChars: foldChars,
    load: load,
    loadFold: loadFold,
    spans: spans,
    startSearch: startSearch,
    terms: terms,
    unpackText: unpackText,
  };
})();
