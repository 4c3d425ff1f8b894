/* kernel-explorer: line ranges, the hover card, the references panel and symbol search.
 * Data comes from the site itself (window.kernelExplorer, set by config.js, and the JSON
 * under <kernel>/_kx/), loaded on demand; nothing is fetched from another host.
 * Names and paths in that data come from the kernel tree and are untrusted: everything shown
 * is built as DOM nodes (el(), textContent, setAttribute), never as HTML strings, and every
 * path put in a URL is encoded segment by segment (urlPath). */
(function () {
  "use strict";
  var KX = window.kernelExplorer;
  if (!KX) return;

  var siteBase = (function () {
    var el = document.getElementById("__config");
    var base = ".";
    try { base = JSON.parse(el.textContent).base || "."; } catch (e) { /* keep "." */ }
    return new URL(base.replace(/\/?$/, "/"), document.baseURI);
  })();
  /* a plain site path ("linux-6.1/source/net/a#b.c/") as a URL path: each segment encoded */
  function urlPath(path) { return String(path).split("/").map(encodeURIComponent).join("/"); }
  function siteURL(path) { return new URL(urlPath(path), siteBase).href; }
  /* a page of another kernel than the default one reads that kernel's data (its URL starts with it) */
  (function () {
    var here = decodeURIComponent(location.pathname), base = decodeURIComponent(siteBase.pathname);
    var first = here.indexOf(base) === 0 ? here.slice(base.length).split("/")[0] : "";
    var own = KX.kernels && Object.prototype.hasOwnProperty.call(KX.kernels, first) ? KX.kernels[first] : null;
    if (own) { Object.keys(own).forEach(function (k) { KX[k] = own[k]; }); KX.kernel = first; }
  })();

  var cache = new Map();
  function getJSON(path) {
    if (!cache.has(path)) {
      cache.set(path, fetch(siteURL(path)).then(function (r) {
        if (!r.ok) throw new Error(path + ": " + r.status);
        return r.json();
      }));
    }
    return cache.get(path);
  }
  var files = function () { return getJSON(KX.data + "files.json"); };

  function lastPart(name) { var i = name.lastIndexOf("."); return i < 0 ? name : name.slice(i + 1); }
  function shardOf(name) {
    var key = lastPart(name).replace(/^_+/, "").toLowerCase().slice(0, 2);
    if (!key) key = "_";
    while (key.length < 2) key += "_";
    return key.replace(/[^a-z0-9]/g, "_");
  }
  function names(name) {
    var key = shardOf(name);
    if (KX.shards.indexOf(key) < 0) return Promise.resolve([]);
    return getJSON(KX.data + "names/" + key + ".json");
  }
  var CRC = (function () {
    var t = [];
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[n] = c >>> 0;
    }
    return t;
  })();
  function crc32(s) {
    var bytes = new TextEncoder().encode(s), c = 0xffffffff;
    for (var i = 0; i < bytes.length; i++) c = CRC[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  }
  function refs(name) { return getJSON(KX.data + "refs/" + (crc32(name) % KX.refShards) + ".json"); }

  /* an element: el("a", {href: url, class: "d"}, child, ...); children are nodes or text */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function sourceHref(path, line) { return siteURL(KX.source + path + "/") + (line ? "#L" + (+line) : ""); }
  /* the key of the "defined elsewhere" page of a name (as explorer/urls.py elsewhere_key) */
  function elsewhereKey(name) {
    var c = lastPart(name).replace(/^_+/, "").toLowerCase().charAt(0);
    return /^[a-z0-9]$/.test(c) ? c : "_";
  }
  /* where a definition (name, file id, line) is shown: its source line, or its entry on the
     "defined elsewhere" page when its file has no page (file ids from KX.pages on) */
  function definitionHref(name, fileId, line, paths) {
    if (KX.pages === null || KX.pages === undefined || fileId < KX.pages) return sourceHref(paths[fileId], line);
    return siteURL(KX.elsewhere + elsewhereKey(name) + "/") + "#" + encodeURIComponent(name);
  }
  function symbolHref(name) { return siteURL(KX.symbol + String(name).replace(/[^A-Za-z0-9_.\-]/g, "_") + "/"); }

  /* where a link in the code goes: {path, line} of a source page, or null */
  function targetOf(a) {
    var url = new URL(a.href, document.baseURI);
    var pathname;
    try { pathname = decodeURIComponent(url.pathname); } catch (e) { return null; }
    var marker = "/" + KX.source;
    var i = pathname.indexOf(marker);
    if (i < 0) return null;
    var path = pathname.slice(i + marker.length).replace(/\/(index\.html)?$/, "");
    var m = /^#L(\d+)/.exec(url.hash);
    return { path: path, line: m ? +m[1] : 0 };
  }
  function currentPath() {
    var head = document.querySelector(".kx-file-head");
    return head ? head.getAttribute("data-kx-path") : null;
  }

  /* the index entry for a link: [name, kind, file, line, signature, cond, hasPage] */
  function entryFor(a) {
    var text = a.textContent;
    var target = targetOf(a);
    var here = a.classList.contains("d") ? { path: currentPath(), line: lineOf(a) } : target;
    return Promise.all([names(text), files()]).then(function (res) {
      var list = res[0], paths = res[1], best = null;
      for (var i = 0; i < list.length; i++) {
        var e = list[i];
        if (lastPart(e[0]) !== text) continue;
        if (here && paths[e[2]] === here.path && e[3] === here.line) return e;
        if (!best) best = e;
      }
      return best;
    });
  }
  function lineOf(el) {
    var line = el.closest(".kx-code span[id^='L']");
    return line ? +line.id.slice(1) : 0;
  }

  /* ---------------------------------------------------------------- line ranges */
  var code = document.querySelector(".kx-source code");
  function highlight() {
    if (!code) return;
    code.querySelectorAll(".kx-hl").forEach(function (el) { el.classList.remove("kx-hl"); });
    var m = /^#L(\d+)(?:-L?(\d+))?$/.exec(location.hash);
    if (!m) return;
    var a = +m[1], b = m[2] ? +m[2] : a;
    if (b < a) { var t = a; a = b; b = t; }
    for (var n = a; n <= b && n - a < 5000; n++) {
      var el = document.getElementById("L" + n);
      if (el) el.classList.add("kx-hl");
    }
    if (m[2]) {
      var first = document.getElementById("L" + a);
      if (first) first.scrollIntoView({ block: "center" });
    }
  }
  var anchorLine = 0;
  if (code) {
    code.addEventListener("click", function (ev) {
      var line = ev.target;
      if (!(line instanceof HTMLElement) || !line.id || !/^L\d+$/.test(line.id)) return;
      if (line.parentElement !== code && !line.parentElement.classList.contains("kx-chunk")) return;
      var gutter = parseFloat(getComputedStyle(line).paddingLeft) || 0;
      if (ev.clientX - line.getBoundingClientRect().left > gutter) return;
      var n = +line.id.slice(1);
      var hash = ev.shiftKey && anchorLine ? "#L" + Math.min(anchorLine, n) + "-L" + Math.max(anchorLine, n) : "#L" + n;
      if (!ev.shiftKey) anchorLine = n;
      history.replaceState(null, "", hash);
      highlight();
    });
    window.addEventListener("hashchange", highlight);
    highlight();
  }
  document.querySelectorAll(".kx-embed").forEach(function (box) {
    var src = box.getAttribute("data-kx-src");
    var embedCode = box.querySelector("code");
    if (!src || !embedCode) return;
    var start = parseInt(getComputedStyle(box).getPropertyValue("--kx-start"), 10) || 0;
    embedCode.addEventListener("click", function (ev) {
      var line = ev.target;
      if (!(line instanceof HTMLElement) || line.parentElement !== embedCode) return;
      var gutter = parseFloat(getComputedStyle(line).paddingLeft) || 0;
      if (ev.clientX - line.getBoundingClientRect().left > gutter) return;
      var n = start + 1 + Array.prototype.indexOf.call(embedCode.children, line);
      location.href = new URL(src.replace(/#.*$/, "") + "#L" + n, document.baseURI).href;
    });
  });

  /* ---------------------------------------------------------------- hover card */
  var card = null, hoverTimer = 0;
  function hideCard() {
    clearTimeout(hoverTimer);
    if (card) { card.remove(); card = null; }
  }
  /* the nodes that describe an index entry (hover card, references panel) */
  function describe(e, paths) {
    var out = [el("div", null, el("strong", null, e[0]), " ", el("span", { "class": "kx-kind" }, e[1]))];
    if (e[4]) out.push(el("div", null, el("code", null, e[4])));
    if (e[5]) out.push(el("div", { "class": "kx-meta" }, "under " + e[5]));
    // the kernel's own kernel-doc, then this project's annotation: labelled apart
    if (e[9]) out.push(el("div", { "class": "kx-kdoc-card" }, el("span", { "class": "kx-kdoc-label" }, "kernel-doc"), " ", e[9]));
    if (e[7]) out.push(el("div", { "class": "kx-note" }, e[7]));
    if (e[8] && e[8].length) {
      // a call through this member may reach any function stored in it: offer the choice
      var targets = el("div", { "class": "kx-targets" }, "calls through it may reach: ");
      e[8].forEach(function (t, i) {
        if (i) targets.appendChild(document.createTextNode(", "));
        targets.appendChild(el("a", { href: definitionHref(t[0], t[1], t[2], paths) }, el("code", null, t[0])));
      });
      out.push(targets);
    }
    out.push(el("div", { "class": "kx-meta" }, paths[e[2]] + ":" + e[3]));
    return out;
  }
  function fill(parent, nodes) {
    parent.replaceChildren.apply(parent, nodes);
    return parent;
  }
  document.addEventListener("mouseover", function (ev) {
    var a = ev.target instanceof Element ? ev.target.closest(".kx-code a[href]") : null;
    if (!a) return;
    hideCard();
    hoverTimer = setTimeout(function () {
      Promise.all([entryFor(a), files()]).then(function (res) {
        var e = res[0];
        if (!e || !a.matches(":hover")) return;
        hideCard();
        card = fill(el("div", { "class": "kx-card" }), describe(e, res[1]).concat(
          el("div", { "class": "kx-meta" }, "click a name at its definition for its references")));
        document.body.appendChild(card);
        var r = a.getBoundingClientRect();
        card.style.left = Math.max(4, window.scrollX + r.left) + "px";
        card.style.top = window.scrollY + r.bottom + 4 + "px";
      }).catch(function () { /* no card */ });
    }, 300);
  });
  document.addEventListener("mouseout", function (ev) {
    if (ev.target instanceof Element && ev.target.closest(".kx-code a[href]")) hideCard();
  });

  /* ---------------------------------------------------------------- references panel */
  var panel = null;
  function openPanel(e) {
    if (!panel) {
      panel = document.createElement("aside");
      panel.className = "kx-panel";
      document.body.appendChild(panel);
      panel.addEventListener("click", function (ev) {
        if (ev.target instanceof Element && ev.target.closest(".kx-close")) panel.hidden = true;
      });
    }
    panel.hidden = false;
    function close() { return el("button", { "class": "kx-close", title: "close" }, "×"); }
    fill(panel, [close(), el("p", null, "Loading references of ", el("code", null, e[0]), "…")]);
    Promise.all([refs(e[0]), files()]).then(function (res) {
      var byFile = Object.prototype.hasOwnProperty.call(res[0], e[0]) ? res[0][e[0]] : {}, paths = res[1];
      var ids = Object.keys(byFile).sort(function (x, y) { return paths[x] < paths[y] ? -1 : 1; });
      var total = 0;
      var nodes = [close()].concat(describe(e, paths));
      if (e[6]) nodes.push(el("p", null, el("a", { href: symbolHref(e[0]) }, "symbol page")));
      var list = el("ul");
      ids.forEach(function (id) {
        var lines = byFile[id];
        total += lines.length;
        var item = el("li", null, el("code", null, paths[id]));
        lines.slice(0, 60).forEach(function (n) {
          item.appendChild(document.createTextNode(" "));
          item.appendChild(el("a", { href: sourceHref(paths[id], n) }, n));
        });
        if (lines.length > 60) item.appendChild(document.createTextNode(" …"));
        list.appendChild(item);
      });
      nodes.push(el("h3", null, total + " references in " + ids.length + " files"), list);
      fill(panel, nodes);
    }).catch(function () {
      fill(panel, [close(), el("p", null, "No references available.")]);
    });
  }
  document.addEventListener("click", function (ev) {
    var a = ev.target instanceof Element ? ev.target.closest(".kx-code a.d") : null;
    if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    ev.preventDefault();
    hideCard();
    entryFor(a).then(function (e) { if (e) openPanel(e); });
  });

  /* ---------------------------------------------------------------- diagrams */
  var diagrams = document.querySelectorAll("pre.kx-mermaid");
  if (diagrams.length && KX.mermaid) {
    var nodes = [];
    diagrams.forEach(function (pre) {
      var div = document.createElement("div");
      div.className = "kx-diagram";
      div.textContent = pre.textContent;
      var links = pre.getAttribute("data-kx-links");
      if (links) div.setAttribute("data-kx-links", links);
      pre.replaceWith(div);
      nodes.push(div);
    });
    var script = document.createElement("script");
    script.src = siteURL(KX.mermaid);
    script.onload = function () {
      var dark = document.body.getAttribute("data-md-color-scheme") === "slate";
      // the page's font stack (with the bundled CJK face), loaded for the diagrams' text before
      // mermaid measures it, so Chinese labels are drawn and sized with real glyphs
      var font = getComputedStyle(document.body).fontFamily;
      var text = nodes.map(function (n) { return n.textContent; }).join("");
      var ready = document.fonts && document.fonts.load ? document.fonts.load("16px " + font, text).catch(function () {}) : Promise.resolve();
      ready.then(function () {
        window.mermaid.initialize({ startOnLoad: false, theme: dark ? "dark" : "default", securityLevel: "strict", fontFamily: font });
        return window.mermaid.run({ nodes: nodes });
      }).then(function () {
        nodes.forEach(linkBoxes);
      }).catch(function (err) {
        console.warn("kernel-explorer: a diagram could not be drawn:", err && (err.message || err.str || err));
      });
    };
    document.head.appendChild(script);
  }

  /* the boxes of a drawn diagram as links: {node id: URL relative to the page} from the
     block's data-kx-links; mermaid names a box's group "…flowchart-<node id>-<n>" */
  function linkBoxes(div) {
    var links;
    try { links = JSON.parse(div.getAttribute("data-kx-links") || "{}"); } catch (e) { return; }
    var SVG = "http://www.w3.org/2000/svg";
    div.querySelectorAll("g.node").forEach(function (g) {
      var m = /(?:^|-)flowchart-([A-Za-z0-9]+)-\d+$/.exec(g.id || "");
      if (!m || !Object.prototype.hasOwnProperty.call(links, m[1])) return;
      var href = new URL(links[m[1]], document.baseURI);
      if (href.origin !== location.origin) return;
      var a = document.createElementNS(SVG, "a");
      a.setAttribute("href", href.href);
      a.setAttribute("class", "kx-box-link");
      g.parentNode.insertBefore(a, g);
      a.appendChild(g);
    });
  }

  /* ---------------------------------------------------------------- outline filter */
  var outline = document.querySelector(".kx-outline");
  if (outline) {
    var list = outline.querySelector("ol");
    var filter = el("input", { type: "search", "class": "kx-filter", placeholder: "Filter definitions",
                               "aria-label": "Filter the definitions of this file" });
    list.parentNode.insertBefore(filter, list);
    var items = Array.prototype.slice.call(list.children);
    filter.addEventListener("input", function () {
      var q = filter.value.trim().toLowerCase();
      items.forEach(function (li) { li.hidden = !!q && li.textContent.toLowerCase().indexOf(q) < 0; });
    });
    filter.addEventListener("keydown", function (ev) {
      if (ev.key !== "Enter") return;
      var first = items.filter(function (li) { return !li.hidden; })[0];
      if (first) { ev.preventDefault(); location.hash = first.querySelector("a").getAttribute("href"); }
    });
  }

  /* ---------------------------------------------------------------- file tree */
  /* the kernel's folders from files.json, built lazily: a folder's entries are made when it is
     first opened; the folders holding this page's file are open, the file marked.  Only the files
     with a page of their own are listed (ids below KX.pages); the folders of the other files the
     data knows, holding none with a page, are shown greyed, without entries */
  var treeBox = document.querySelector("[data-kx-tree]");
  if (treeBox) {
    var here = currentPath();
    var makeTree = function (paths) {
      var root = { dirs: {}, files: [], pages: true };
      var withPages = KX.pages === null || KX.pages === undefined ? paths.length : KX.pages;
      paths.forEach(function (p, id) {
        var page = id < withPages;
        var parts = String(p).split("/"), node = root;
        for (var i = 0; i < parts.length - 1; i++) {
          if (!Object.prototype.hasOwnProperty.call(node.dirs, parts[i])) {
            if (!page) { node.dirs[parts[i]] = { dirs: {}, files: [], pages: false }; return; }
            node.dirs[parts[i]] = { dirs: {}, files: [], pages: true };
          }
          node = node.dirs[parts[i]];
          if (!node.pages) return;
        }
        if (page) node.files.push(parts[parts.length - 1]);
      });
      return root;
    };
    var fillFolder = function (ul, node, prefix) {
      Object.keys(node.dirs).sort().forEach(function (name) {
        var full = prefix + name, sub = node.dirs[name];
        if (!sub.pages) {
          ul.appendChild(el("li", { "class": "kx-dir kx-nopage", title: "no file of this folder has a page" }, name + "/"));
          return;
        }
        var details = el("details", null, el("summary", null, name + "/"));
        var inner = el("ul");
        details.appendChild(inner);
        var filled = false;
        var open = function () { if (!filled) { filled = true; fillFolder(inner, sub, full + "/"); } };
        details.addEventListener("toggle", function () { if (details.open) open(); });
        if (here && here.indexOf(full + "/") === 0) { open(); details.open = true; }
        ul.appendChild(el("li", { "class": "kx-dir" }, details));
      });
      node.files.slice().sort().forEach(function (name) {
        var full = prefix + name;
        var link = el("a", { href: sourceHref(full) }, name);
        if (full === here) { link.setAttribute("aria-current", "page"); link.className = "kx-here"; }
        ul.appendChild(el("li", null, link));
      });
    };
    var whenLoaded = function (f) {  // after the load event: a large tree never delays the page
      if (document.readyState === "complete") setTimeout(f, 0); else window.addEventListener("load", f);
    };
    whenLoaded(function () { files().then(function (paths) {
      var ul = el("ul", { "class": "kx-tree-list" });
      fillFolder(ul, makeTree(paths), "");
      fill(treeBox, [ul]);
      var mark = treeBox.querySelector(".kx-here");
      if (mark) {
        var box = treeBox.closest(".kx-tree");
        var top = mark.offsetTop - (box ? box.offsetTop : 0);
        if (box) box.scrollTop = Math.max(0, top - 80);
      }
    }).catch(function () { /* the link to the folder stays */ }); });
  }

  /* ---------------------------------------------------------------- symbols in the search box */
  var input = document.querySelector(".md-search__input");
  var wrap = document.querySelector(".md-search__scrollwrap");
  if (input && wrap) {
    var box = document.createElement("div");
    box.className = "kx-symbol-results";
    box.hidden = true;
    wrap.insertBefore(box, wrap.firstChild);
    var timer = 0, seq = 0;
    var search = function () {
      var q = input.value.trim();
      var mine = ++seq;
      if (!/^[A-Za-z_][\w.]*$/.test(q) || q.replace(/^_+/, "").length < 2) { box.hidden = true; return; }
      var ql = q.toLowerCase();
      Promise.all([names(q), files()]).then(function (res) {
        if (mine !== seq) return;
        var hits = res[0].filter(function (e) {
          var n = e[0].toLowerCase();
          return n.indexOf(ql) === 0 || lastPart(n).indexOf(ql) === 0;
        });
        hits.sort(function (x, y) {
          var xe = x[0].toLowerCase() === ql || lastPart(x[0]).toLowerCase() === ql ? 0 : 1;
          var ye = y[0].toLowerCase() === ql || lastPart(y[0]).toLowerCase() === ql ? 0 : 1;
          return xe - ye || x[0].length - y[0].length || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0);
        });
        if (!hits.length) { box.hidden = true; return; }
        var paths = res[1];
        var list = el("ol");
        hits.slice(0, 12).forEach(function (e) {
          var href = e[6] ? symbolHref(e[0]) : definitionHref(e[0], e[2], e[3], paths);
          list.appendChild(el("li", null, el("a", { href: href }, el("code", null, e[0]),
            el("span", { "class": "kx-meta" }, e[1] + " · " + paths[e[2]] + ":" + e[3]))));
        });
        fill(box, [el("div", { "class": "kx-meta" }, "Definitions"), list]);
        box.hidden = false;
      }).catch(function () { box.hidden = true; });
    };
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 120); });
  }
})();
